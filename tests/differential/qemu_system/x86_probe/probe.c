/* The probe: runs each case of the batch at COMMANDS_PA under its CR3/CR0.WP/CR4/EFER/
 * RFLAGS.AC/CPL and reports, one line per case on COM1, what the CPU did:
 *   C <index> <vector> <error code> <rip> <cr2> <rax> <check> <hash> <w0> .. <w4>
 * vector DONE_VECTOR = the access completed (rax = the loaded value); 6 (#UD) at rip = va
 * = a fetch reached the ud2 planted at the predicted PA; 14 / 13 = #PF / #GP. <check> is
 * the word at the predicted PA read through the identity map after the access, <hash> an
 * FNV-1a hash of the case's table range, <wN> the words the host asked for. */
#include <stdint.h>

#include "probe_abi.h"

struct batch_header {
    uint64_t magic, levels, boot_cr3, case_count, user_stub_va, reserved[3];
};

struct batch_case {
    uint64_t cr3, va, flags, predicted_pa, hash_start, hash_bytes;
    uint64_t words[WORDS_PER_CASE];
    uint64_t reserved[5];
};

struct gate {
    uint16_t offset_low, selector;
    uint8_t ist, type;
    uint16_t offset_mid;
    uint32_t offset_high, zero;
};

struct tss {
    uint32_t reserved0;
    uint64_t rsp[3];
    uint64_t reserved1;
    uint64_t ist[7];
    uint64_t reserved2;
    uint16_t reserved3, iomap_base;
} __attribute__((packed));

extern char exception_stubs[], done_stub[], exception_stack_top[];
extern uint64_t gdt_tss[2];
extern void run_case(uint64_t va, uint64_t access, uint64_t rflags, uint64_t cpl3,
                     uint64_t user_stub_va, uint64_t marker);

volatile uint64_t case_result[5]; /* vector, error code, rip, cr2, rax */
static struct gate idt[256] __attribute__((aligned(16)));
static struct tss tss __attribute__((aligned(16)));

static inline void outb(uint16_t port, uint8_t value) {
    __asm__ volatile("outb %0, %1" : : "a"(value), "Nd"(port));
}

static inline void outl(uint16_t port, uint32_t value) {
    __asm__ volatile("outl %0, %1" : : "a"(value), "Nd"(port));
}

static void put_char(char c) { outb(0x3F8, (uint8_t)c); }

static void put_hex(uint64_t value) {
    char digits[16];
    int count = 0;
    do {
        digits[count++] = "0123456789abcdef"[value & 15];
        value >>= 4;
    } while (value);
    put_char(' ');
    while (count) put_char(digits[--count]);
}

static uint64_t read_msr(uint32_t msr) {
    uint32_t low, high;
    __asm__ volatile("rdmsr" : "=a"(low), "=d"(high) : "c"(msr));
    return ((uint64_t)high << 32) | low;
}

static void write_msr(uint32_t msr, uint64_t value) {
    __asm__ volatile("wrmsr" : : "c"(msr), "a"((uint32_t)value), "d"((uint32_t)(value >> 32)));
}

#define READ_CR(n)                                          \
    static uint64_t read_cr##n(void) {                      \
        uint64_t value;                                     \
        __asm__ volatile("mov %%cr" #n ", %0" : "=r"(value)); \
        return value;                                       \
    }
#define WRITE_CR(n)                                                       \
    static void write_cr##n(uint64_t value) {                             \
        __asm__ volatile("mov %0, %%cr" #n : : "r"(value) : "memory");   \
    }
READ_CR(0)
READ_CR(4)
WRITE_CR(0)
WRITE_CR(2)
WRITE_CR(3)
WRITE_CR(4)

static void cpuid(uint32_t leaf, uint32_t sub, uint32_t out[4]) {
    __asm__ volatile("cpuid"
                     : "=a"(out[0]), "=b"(out[1]), "=c"(out[2]), "=d"(out[3])
                     : "a"(leaf), "c"(sub));
}

static void set_gate(int vector, void *handler, int dpl) {
    uint64_t address = (uint64_t)handler;
    idt[vector] = (struct gate){
        .offset_low = (uint16_t)address,
        .selector = KERNEL_CS,
        .ist = 1,
        .type = (uint8_t)(0x8E | (dpl << 5)),
        .offset_mid = (uint16_t)(address >> 16),
        .offset_high = (uint32_t)(address >> 32),
    };
}

static void install_descriptors(void) {
    for (int vector = 0; vector < 32; vector++) set_gate(vector, exception_stubs + 16 * vector, 0);
    set_gate(DONE_VECTOR, done_stub, 3);
    tss.rsp[0] = (uint64_t)exception_stack_top;
    tss.ist[0] = (uint64_t)exception_stack_top;
    tss.iomap_base = sizeof(tss);
    uint64_t base = (uint64_t)&tss, limit = sizeof(tss) - 1;
    gdt_tss[0] = (limit & 0xFFFF) | ((base & 0xFFFFFF) << 16) | (0x89ULL << 40) |
                 (((limit >> 16) & 0xF) << 48) | (((base >> 24) & 0xFF) << 56);
    gdt_tss[1] = base >> 32;
    struct {
        uint16_t limit;
        uint64_t base;
    } __attribute__((packed)) pointer = {sizeof(idt) - 1, (uint64_t)idt};
    __asm__ volatile("lidt %0" : : "m"(pointer));
    __asm__ volatile("ltr %w0" : : "r"(TSS_SEL));
}

static void fill_pattern(void) {
    for (uint64_t address = PATTERN_PA; address < PATTERN_END; address += 8)
        *(volatile uint64_t *)address = address;
}

static uint64_t table_hash(uint64_t start, uint64_t bytes) {
    uint64_t hash = 0xcbf29ce484222325ULL;
    for (uint64_t address = start; address < start + bytes; address += 8)
        hash = (hash ^ *(volatile uint64_t *)address) * 0x100000001b3ULL;
    return hash;
}

static void configure(uint64_t flags) {
    uint64_t cr0 = read_cr0() & ~(1ULL << 16);
    write_cr0(cr0 | ((flags & CASE_WP) ? 1ULL << 16 : 0));
    uint64_t cr4 = read_cr4() & ~((1ULL << 20) | (1ULL << 21));
    cr4 |= (flags & CASE_SMEP) ? 1ULL << 20 : 0;
    cr4 |= (flags & CASE_SMAP) ? 1ULL << 21 : 0;
    write_cr4(cr4);
    uint64_t efer = read_msr(0xC0000080) & ~(1ULL << 11);
    write_msr(0xC0000080, efer | ((flags & CASE_NXE) ? 1ULL << 11 : 0));
}

static void run(const struct batch_header *header, const struct batch_case *item, uint64_t index) {
    uint64_t access = item->flags & CASE_ACCESS_MASK;
    uint64_t word = item->predicted_pa & ~7ULL;
    volatile uint64_t *target = (volatile uint64_t *)word;
    int touch = (item->flags & CASE_PA_VALID) != 0;
    uint64_t original = touch ? *target : 0;
    if (touch && access == 0) {
        /* ud2 at the predicted PA: a fetch that lands there raises #UD at rip = va */
        volatile uint8_t *bytes = (volatile uint8_t *)item->predicted_pa;
        bytes[0] = 0x0F;
        bytes[1] = 0x0B;
    }
    uint64_t marker = 0x5A5A000000000000ULL | index;
    configure(item->flags);
    write_cr2(0);
    write_cr3(item->cr3); /* CR4.PGE is clear: this flushes the whole TLB */
    uint64_t rflags = 2 | ((item->flags & CASE_AC) ? 1ULL << 18 : 0);
    run_case(item->va, access, rflags, (item->flags & CASE_CPL3) != 0, header->user_stub_va,
             marker);
    write_cr3(header->boot_cr3);
    uint64_t check = touch ? *target : 0;
    if (touch) *target = original;
    put_char('C');
    put_hex(index);
    for (int field = 0; field < 5; field++) put_hex(case_result[field]);
    put_hex(check);
    put_hex(table_hash(item->hash_start, item->hash_bytes));
    for (int n = 0; n < WORDS_PER_CASE; n++)
        put_hex(item->words[n] ? *(volatile uint64_t *)item->words[n] : 0);
    put_char('\n');
}

void probe_main(void) {
    const struct batch_header *header = (const struct batch_header *)COMMANDS_PA;
    install_descriptors();
    uint32_t leaf7[4], ext1[4], ext8[4];
    cpuid(7, 0, leaf7);
    cpuid(0x80000001, 0, ext1);
    cpuid(0x80000008, 0, ext8);
    put_char('P');
    put_hex(header->magic == BATCH_MAGIC);
    put_hex(leaf7[2]);     /* ECX bit 16: LA57 */
    put_hex(leaf7[1]);     /* EBX bit 7: SMEP, bit 20: SMAP */
    put_hex(ext1[3]);      /* EDX bit 26: 1 GiB pages, bit 20: NX */
    put_hex(ext8[0] & 0xFF); /* MAXPHYADDR */
    put_hex(read_cr4());
    put_char('\n');
    if (header->magic == BATCH_MAGIC) {
        fill_pattern();
        const struct batch_case *cases = (const struct batch_case *)(COMMANDS_PA + HEADER_BYTES);
        for (uint64_t index = 0; index < header->case_count; index++)
            run(header, &cases[index], index);
    }
    put_char('E');
    put_char('\n');
    outl(0xF4, 0);
}
