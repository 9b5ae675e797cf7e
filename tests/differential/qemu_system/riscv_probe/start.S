# M-mode startup, PMP set-up, the trap handler and run_access (see probe.h).
#define MSTATUS_MPRV (1 << 17)
#define MSTATUS_MPP (3 << 11)
#define MSTATUS_SUM (1 << 18)
#define MSTATUS_MXR (1 << 19)
#define ACCESS_BITS (MSTATUS_MPRV | MSTATUS_MPP | MSTATUS_SUM | MSTATUS_MXR)

    .section .text.start, "ax"
    .globl _start
_start:
    la      sp, __stack_top
    la      t0, trap_entry
    csrw    mtvec, t0
    csrw    medeleg, zero
    csrw    mideleg, zero
    csrw    mie, zero
    # PMP for S and U (M-mode is not affected: no entry is locked):
    #   0: the modelled RAM, 0x81000000 + 16 MiB: RWX
    #   1: unassigned 0x10000000000 + 1 TiB: RWX (the bus answers with an error)
    #   anything else (the probe, its cases, devices): no access
    li      t0, (0x81000000 >> 2) | ((0x1000000 >> 3) - 1)
    csrw    pmpaddr0, t0
    li      t0, (0x10000000000 >> 2) | ((0x10000000000 >> 3) - 1)
    csrw    pmpaddr1, t0
    li      t0, 0x1f1f
    csrw    pmpcfg0, t0
    la      t0, __bss_start
    la      t1, __bss_end
1:  bgeu    t0, t1, 2f
    sd      zero, 0(t0)
    addi    t0, t0, 8
    j       1b
2:  call    main
3:  j       3b

# Every trap lands here, from M-mode (a load or store under MPRV) or from S/U (a fetch):
# record it and return from run_access with its saved registers.
    .align  4
trap_entry:
    li      t0, MSTATUS_MPRV
    csrc    mstatus, t0
    la      t0, trap_record
    csrr    t1, mcause
    sd      t1, 0(t0)
    csrr    t1, mtval
    sd      t1, 8(t0)
    csrr    t1, mepc
    sd      t1, 16(t0)
    li      t1, 1
    sd      t1, 24(t0)
    la      t0, saved
    ld      ra, 0(t0)
    ld      sp, 8(t0)
    ld      gp, 16(t0)
    ld      tp, 24(t0)
    ld      s0, 32(t0)
    ld      s1, 40(t0)
    ld      s2, 48(t0)
    ld      s3, 56(t0)
    ld      s4, 64(t0)
    ld      s5, 72(t0)
    ld      s6, 80(t0)
    ld      s7, 88(t0)
    ld      s8, 96(t0)
    ld      s9, 104(t0)
    ld      s10, 112(t0)
    ld      s11, 120(t0)
    li      a0, 0
    ret

# uint64_t run_access(kind a0, va a1, mstatus_bits a2, marker a3)
    .globl  run_access
run_access:
    la      t0, saved
    sd      ra, 0(t0)
    sd      sp, 8(t0)
    sd      gp, 16(t0)
    sd      tp, 24(t0)
    sd      s0, 32(t0)
    sd      s1, 40(t0)
    sd      s2, 48(t0)
    sd      s3, 56(t0)
    sd      s4, 64(t0)
    sd      s5, 72(t0)
    sd      s6, 80(t0)
    sd      s7, 88(t0)
    sd      s8, 96(t0)
    sd      s9, 104(t0)
    sd      s10, 112(t0)
    sd      s11, 120(t0)
    li      t1, ACCESS_BITS
    csrc    mstatus, t1
    beqz    a0, .Lfetch
    li      t2, 2
    beq     a0, t2, .Lstore
    # Load: no memory access other than the probed one while MPRV is set.
    csrs    mstatus, a2
    ld      a0, 0(a1)
    csrc    mstatus, t1
    ret
.Lstore:
    csrs    mstatus, a2
    sd      a3, 0(a1)
    csrc    mstatus, t1
    li      a0, 0
    ret
.Lfetch:
    # mret to the VA at MPP: the first trap tells whether the fetch worked.
    csrw    mepc, a1
    csrs    mstatus, a2
    mret

    .bss
    .align  3
saved:
    .skip   128
