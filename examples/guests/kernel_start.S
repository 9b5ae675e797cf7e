# The small kernel's entry (M-mode) and its S-mode trap entry, plus the user program.
    .section .text.start, "ax"
    .globl _start
_start:
    la      sp, __stack_top
    la      t0, __bss_start
    la      t1, __bss_end
1:  bgeu    t0, t1, 2f
    sd      zero, 0(t0)
    addi    t0, t0, 8
    j       1b
2:  la      t0, m_trap
    csrw    mtvec, t0
    # Delegate ecall from U (8) and page faults (12, 13, 15) to S-mode.
    li      t0, (1 << 8) | (1 << 12) | (1 << 13) | (1 << 15)
    csrw    medeleg, t0
    # mret into kmain in S-mode (MPP = 01).
    li      t0, 3 << 11
    csrc    mstatus, t0
    li      t0, 1 << 11
    csrs    mstatus, t0
    la      t0, kmain
    csrw    mepc, t0
    mret

# Nothing should reach M-mode after boot: report it through the finisher (exit code 3).
m_trap:
    li      t0, 0x100000
    li      t1, (3 << 16) | 0x3333
    sw      t1, 0(t0)
3:  j       3b

# S-mode trap entry: sscratch holds the kernel stack top while user code runs.
    .globl  s_trap_entry
    .balign 4
s_trap_entry:
    csrrw   sp, sscratch, sp
    addi    sp, sp, -256
    .irp    n, 1, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13, 14, 15, 16, 17, 18, 19, 20, 21, 22, 23, 24, 25, 26, 27, 28, 29, 30, 31
    sd      x\n, (\n * 8)(sp)
    .endr
    csrr    t0, sscratch
    sd      t0, 16(sp)
    mv      a0, sp
    call    s_trap
    addi    t0, sp, 256
    csrw    sscratch, t0
    .irp    n, 1, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13, 14, 15, 16, 17, 18, 19, 20, 21, 22, 23, 24, 25, 26, 27, 28, 29, 30, 31
    ld      x\n, (\n * 8)(sp)
    .endr
    ld      sp, 16(sp)
    sret

# Enter user mode at sepc with the given user stack: enter_user(user_sp).
    .globl  enter_user
enter_user:
    mv      sp, a0
    sret

# The user program (mapped at virtual 0x40000000 with U|R|X). Its first store touches an
# unmapped page: the kernel maps it and the store is retried.
    .section .text.user, "ax"
    .balign 4096
    .globl  user_entry
user_entry:
    li      t0, 0x40010000
    li      t1, 42
    sd      t1, 0(t0)
    ld      s0, 0(t0)
    li      a0, 'U'
    li      a7, 2
    ecall
    li      a0, '\n'
    li      a7, 2
    ecall
    mv      a0, s0
    li      a7, 1
    ecall
4:  j       4b
    .balign 4096
