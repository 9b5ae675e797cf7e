/* Runs every case of the blob at CASES_BASE and reports over the UART, one line per case:
 *   C <index> <trapped> <mcause> <mtval> <mepc> <value> <satp read back>
 * (hex; value: the loaded word, or for a store the word read back at check_pa), then one
 *   W <address> <word>
 * line per page-table word that changed since the last report; at the end one
 *   F <address> <word>
 * line per word of the modelled RAM that differs from its initial contents, then "E". */
#include "probe.h"

#define UART_BASE 0x10000000UL
#define FINISHER_BASE 0x100000UL

volatile struct trap_record trap_record;

static void put_char(char c) {
    volatile uint8_t *uart = (volatile uint8_t *)UART_BASE;
    while ((uart[5] & 0x20) == 0) {
    }
    uart[0] = (uint8_t)c;
}

static void put_hex(uint64_t value) {
    char buf[17];
    int i = 16;
    do {
        buf[--i] = "0123456789abcdef"[value & 0xf];
        value >>= 4;
    } while (value);
    while (i < 16) {
        put_char(buf[i++]);
    }
}

static void put_field(uint64_t value) {
    put_char(' ');
    put_hex(value);
}

__attribute__((noreturn)) static void finish(uint32_t code) {
    volatile uint32_t *finisher = (volatile uint32_t *)FINISHER_BASE;
    *finisher = code == 0 ? 0x5555u : ((code << 16) | 0x3333u);
    for (;;) {
    }
}

static void report_table_changes(const struct probe_case *c) {
    volatile uint64_t *table = (volatile uint64_t *)c->table_start;
    volatile uint64_t *pristine = (volatile uint64_t *)c->pristine;
    for (uint64_t i = 0; i < c->table_words; i++) {
        uint64_t word = table[i];
        if (word != pristine[i]) {
            put_char('W');
            put_field(c->table_start + 8 * i);
            put_field(word);
            put_char('\n');
            pristine[i] = word;
        }
    }
}

static void report_model_changes(const struct probe_header *header) {
    volatile uint64_t *model = (volatile uint64_t *)header->model_base;
    volatile uint64_t *pristine = (volatile uint64_t *)header->model_pristine;
    for (uint64_t i = 0; i < header->model_words; i++) {
        uint64_t word = model[i];
        if (word != pristine[i]) {
            put_char('F');
            put_field(header->model_base + 8 * i);
            put_field(word);
            put_char('\n');
        }
    }
}

static void run_case(uint64_t index, const struct probe_case *c) {
    __asm__ volatile("csrw satp, %0\n\tsfence.vma zero, zero" : : "r"(c->satp) : "memory");
    uint64_t satp;
    __asm__ volatile("csrr %0, satp" : "=r"(satp));
    trap_record.trapped = 0;
    uint64_t value = run_access(c->kind, c->va, c->mstatus_bits, c->marker);
    uint64_t trapped = trap_record.trapped;
    if (trapped) {
        value = 0;
    } else if (c->kind == KIND_STORE) {
        value = c->check_pa ? *(volatile uint64_t *)c->check_pa : 0;
    }
    put_char('C');
    put_field(index);
    put_field(trapped);
    put_field(trapped ? trap_record.cause : 0);
    put_field(trapped ? trap_record.tval : 0);
    put_field(trapped ? trap_record.epc : 0);
    put_field(value);
    put_field(satp);
    put_char('\n');
    report_table_changes(c);
}

int main(void) {
    const struct probe_header *header = (const struct probe_header *)CASES_BASE;
    if (header->magic != CASES_MAGIC) {
        put_char('X');
        put_char('\n');
        finish(1);
    }
    const struct probe_case *cases = (const struct probe_case *)(header + 1);
    for (uint64_t i = 0; i < header->count; i++) {
        run_case(i, &cases[i]);
    }
    __asm__ volatile("csrw satp, zero\n\tsfence.vma zero, zero" : : : "memory");
    report_model_changes(header);
    put_char('E');
    put_char('\n');
    finish(0);
}
