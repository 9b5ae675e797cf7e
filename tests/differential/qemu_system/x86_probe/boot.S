/* Multiboot (v1) entry in 32-bit protected mode, the switch to long mode, the exception
 * stubs and run_case: the one place an access under test is made, at CPL 0 or CPL 3. */
#include "probe_abi.h"

#define MB_MAGIC 0x1BADB002
#define MB_FLAGS 0x00010000 /* a.out kludge: load the file as is, at the addresses below */

    .section .multiboot, "a"
    .align 4
multiboot_header:
    .long MB_MAGIC
    .long MB_FLAGS
    .long -(MB_MAGIC + MB_FLAGS)
    .long multiboot_header   /* header_addr */
    .long image_start        /* load_addr */
    .long load_end           /* load_end_addr */
    .long bss_end            /* bss_end_addr */
    .long _start             /* entry_addr */

    .section .text.boot, "ax"
    .code32
    .globl _start
_start:
    cli
    movl $boot_stack_top, %esp
    /* CR4.PAE, and CR4.LA57 when the batch is 5-level: LA57 only changes with paging off */
    movl %cr4, %eax
    orl $(1 << 5), %eax
    cmpl $5, COMMANDS_PA + 8
    jne 1f
    orl $(1 << 12), %eax
1:  movl %eax, %cr4
    movl COMMANDS_PA + 16, %eax     /* the host's boot root: the probe's identity slot */
    movl %eax, %cr3
    movl $0xC0000080, %ecx          /* EFER.LME | EFER.NXE */
    rdmsr
    orl $((1 << 8) | (1 << 11)), %eax
    wrmsr
    movl %cr0, %eax
    orl $0x80010001, %eax           /* PG | WP | PE */
    movl %eax, %cr0
    lgdt gdt_pointer
    ljmp $KERNEL_CS, $long_mode

    .code64
long_mode:
    movw $KERNEL_DS, %ax
    movw %ax, %ds
    movw %ax, %es
    movw %ax, %ss
    xorl %eax, %eax
    movw %ax, %fs
    movw %ax, %gs
    movabsq $kernel_stack_top, %rsp
    call probe_main
2:  hlt
    jmp 2b

/* run_case(va=rdi, access=rsi, rflags=rdx, cpl3=rcx, user_stub_va=r8, marker=r9):
 * every path ends in an exception or in int $DONE_VECTOR; the handler records the
 * outcome in case_result and returns from run_case on the saved stack. */
    .text
    .globl run_case
run_case:
    pushq %rbx
    pushq %rbp
    pushq %r12
    pushq %r13
    pushq %r14
    pushq %r15
    movq %rsp, resume_rsp(%rip)
    movq %rdi, %rbx
    movq %r9, %rax
    testq %rcx, %rcx
    jnz to_user
    pushq %rdx
    popfq
    cmpq $1, %rsi
    je kernel_load
    cmpq $2, %rsi
    je kernel_store
    jmp *%rbx
kernel_load:
    movq (%rbx), %rax
    int $DONE_VECTOR
kernel_store:
    movq %rax, (%rbx)
    int $DONE_VECTOR
to_user:
    shlq $4, %rsi
    addq %r8, %rsi
    pushq $(USER_DS | 3)
    pushq $0
    pushq %rdx
    pushq $(USER_CS | 3)
    pushq %rsi
    iretq

/* exception stubs: push a dummy error code where the CPU pushes none, then the vector */
.macro stub vector, has_error
    .align 16
    .if \has_error == 0
    pushq $0
    .endif
    pushq $\vector
    jmp handler_common
.endm

    .align 16
    .globl exception_stubs
exception_stubs:
    stub 0, 0
    stub 1, 0
    stub 2, 0
    stub 3, 0
    stub 4, 0
    stub 5, 0
    stub 6, 0
    stub 7, 0
    stub 8, 1
    stub 9, 0
    stub 10, 1
    stub 11, 1
    stub 12, 1
    stub 13, 1
    stub 14, 1
    stub 15, 0
    stub 16, 0
    stub 17, 1
    stub 18, 0
    stub 19, 0
    stub 20, 0
    stub 21, 1
    stub 22, 0
    stub 23, 0
    stub 24, 0
    stub 25, 0
    stub 26, 0
    stub 27, 0
    stub 28, 0
    stub 29, 1
    stub 30, 1
    stub 31, 0
    .globl done_stub
done_stub:
    stub DONE_VECTOR, 0

handler_common:
    movq %rax, case_result + 32(%rip)   /* rax: the loaded value */
    popq %rax
    movq %rax, case_result(%rip)        /* vector */
    popq %rax
    movq %rax, case_result + 8(%rip)    /* error code */
    movq (%rsp), %rax
    movq %rax, case_result + 16(%rip)   /* rip */
    movq %cr2, %rax
    movq %rax, case_result + 24(%rip)   /* cr2 */
    movq resume_rsp(%rip), %rsp
    pushq $2
    popfq
    movw $KERNEL_DS, %ax
    movw %ax, %ds
    movw %ax, %es
    movw %ax, %ss
    popq %r15
    popq %r14
    popq %r13
    popq %r12
    popq %rbp
    popq %rbx
    ret

/* CPL-3 code, one stub per access, at USER_STUB_PA (mapped user-accessible by the host) */
    .section .user, "ax"
user_stubs:
    jmp *%rbx                            /* USER_FETCH_OFFSET */
    .align 16
    movq (%rbx), %rax                    /* USER_LOAD_OFFSET */
    int $DONE_VECTOR
    .align 16
    movq %rax, (%rbx)                    /* USER_STORE_OFFSET */
    int $DONE_VECTOR

    .data
    .align 16
gdt:
    .quad 0
    .quad 0x00209A0000000000    /* KERNEL_CS: 64-bit code, DPL 0 */
    .quad 0x0000920000000000    /* KERNEL_DS */
    .quad 0x0000F20000000000    /* USER_DS: DPL 3 */
    .quad 0x0020FA0000000000    /* USER_CS: 64-bit code, DPL 3 */
    .globl gdt_tss
gdt_tss:
    .quad 0                     /* TSS descriptor, filled in by probe_main */
    .quad 0
gdt_end:
gdt_pointer:
    .word gdt_end - gdt - 1
    .quad gdt

    .bss
    .align 16
    .globl resume_rsp
resume_rsp:
    .quad 0
    .align 4096
boot_stack:
    .skip 4096
boot_stack_top:
    .skip 16384
kernel_stack_top:
    .globl exception_stack_top
    .skip 16384
exception_stack_top:
