/* A small kernel: boots in M-mode, switches to S-mode, turns on Sv39, runs a user program
   that takes a page fault in U-mode, maps the page on demand and resumes it. Exits with 0
   when the user program reports the value it stored through the faulting page. */
#include "runtime.h"

#define PTE_V (1UL << 0)
#define PTE_R (1UL << 1)
#define PTE_W (1UL << 2)
#define PTE_X (1UL << 3)
#define PTE_U (1UL << 4)
#define PTE_A (1UL << 6)
#define PTE_D (1UL << 7)
#define PTE(pa, flags) ((((uint64_t)(pa)) >> 12) << 10 | (flags))

#define USER_BASE 0x40000000UL
#define USER_DATA 0x40010000UL
#define USER_STACK 0x40020000UL

extern char user_entry[];
extern void s_trap_entry(void);
extern void enter_user(uint64_t sp) __attribute__((noreturn));

static uint64_t root[512] __attribute__((aligned(4096)));
static uint64_t level1[512] __attribute__((aligned(4096)));
static uint64_t level0[512] __attribute__((aligned(4096)));
static uint8_t pool[4][4096] __attribute__((aligned(4096)));
static uint8_t kstack[4096] __attribute__((aligned(16)));
static int next_page;
static int faults;

struct frame {
    uint64_t x[32];
};

#define CSR_READ(name)                                    \
    ({                                                    \
        uint64_t v_;                                      \
        __asm__ volatile("csrr %0, " #name : "=r"(v_));   \
        v_;                                               \
    })
#define CSR_WRITE(name, v) __asm__ volatile("csrw " #name ", %0" ::"r"((uint64_t)(v)) : "memory")

static void puthex(uint64_t v) {
    puts_uart("0x");
    for (int i = 60; i >= 0; i -= 4) {
        putc_uart("0123456789abcdef"[(v >> i) & 15]);
    }
}

void s_trap(struct frame *f) {
    uint64_t cause = CSR_READ(scause);
    uint64_t stval = CSR_READ(stval);
    uint64_t sepc = CSR_READ(sepc);
    if (cause == 13 || cause == 15) {
        if ((stval >> 12) != (USER_DATA >> 12) || next_page >= 3) {
            puts_uart("kernel: unexpected page fault at ");
            puthex(stval);
            puts_uart("\n");
            exit_guest(2);
        }
        faults++;
        level0[(USER_DATA >> 12) & 511] = PTE(pool[next_page++], PTE_V | PTE_R | PTE_W | PTE_U);
        __asm__ volatile("sfence.vma" ::: "memory");
        puts_uart("kernel: U-mode page fault at ");
        puthex(stval);
        puts_uart(", page mapped\n");
        return;
    }
    if (cause == 8) {
        CSR_WRITE(sepc, sepc + 4);
        if (f->x[17] == 2) {
            putc_uart((char)f->x[10]);
            return;
        }
        if (f->x[17] == 1) {
            puts_uart("kernel: user exited with ");
            putu_uart(f->x[10]);
            puts_uart("\n");
            exit_guest(f->x[10] == 42 && faults == 1 ? 0 : 1);
        }
    }
    puts_uart("kernel: unexpected trap ");
    putu_uart(cause);
    puts_uart(" at ");
    puthex(sepc);
    puts_uart("\n");
    exit_guest(3);
}

void kmain(void) {
    root[0] = PTE(0, PTE_V | PTE_R | PTE_W | PTE_A | PTE_D);                   /* devices */
    root[2] = PTE(0x80000000UL, PTE_V | PTE_R | PTE_W | PTE_X | PTE_A | PTE_D); /* kernel */
    root[1] = PTE(level1, PTE_V);
    level1[0] = PTE(level0, PTE_V);
    level0[0] = PTE(user_entry, PTE_V | PTE_R | PTE_X | PTE_U);
    level0[(USER_STACK >> 12) & 511] = PTE(pool[3], PTE_V | PTE_R | PTE_W | PTE_U);
    CSR_WRITE(satp, (8UL << 60) | ((uint64_t)root >> 12));
    __asm__ volatile("sfence.vma" ::: "memory");
    puts_uart("kernel: Sv39 on, entering U-mode\n");
    CSR_WRITE(stvec, s_trap_entry);
    CSR_WRITE(sscratch, kstack + sizeof kstack);
    __asm__ volatile("csrc sstatus, %0" ::"r"(1UL << 8)); /* SPP = U */
    CSR_WRITE(sepc, USER_BASE);
    enter_user(USER_STACK + 4096);
}
