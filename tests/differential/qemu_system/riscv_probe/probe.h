/* The probe's contract with the host (tests/differential/qemu_system/riscv_probe_io.py). */
#ifndef VMCORE_RISCV_PROBE_H
#define VMCORE_RISCV_PROBE_H

#include <stdint.h>

#define CASES_BASE 0x80100000UL
#define CASES_MAGIC 0x45424f5250434d56ULL /* "VMCPROBE" */

enum probe_kind { KIND_FETCH = 0, KIND_LOAD = 1, KIND_STORE = 2 };

/* One access to make. All fields are little-endian u64 in the cases blob. */
struct probe_case {
    uint64_t satp;         /* written, then sfence.vma */
    uint64_t kind;         /* enum probe_kind */
    uint64_t mstatus_bits; /* MPP, SUM, MXR (and MPRV for loads/stores) to set */
    uint64_t va;           /* the virtual address (8-aligned) */
    uint64_t marker;       /* the value a store writes */
    uint64_t check_pa;     /* store: the physical address to read back (0: none) */
    uint64_t table_start;  /* the scenario's page tables, diffed after the access ... */
    uint64_t table_words;  /* ... over this many words ... */
    uint64_t pristine;     /* ... against this copy, which is then brought up to date */
    uint64_t reserved;
};

struct probe_header {
    uint64_t magic;
    uint64_t count;
    uint64_t model_base;     /* at the end, the modelled RAM ... */
    uint64_t model_words;    /* ... (this many words) is diffed ... */
    uint64_t model_pristine; /* ... against this copy of its initial contents */
    uint64_t reserved;
};

/* Filled by the M-mode trap handler. */
struct trap_record {
    uint64_t cause;
    uint64_t tval;
    uint64_t epc;
    uint64_t trapped;
};

extern volatile struct trap_record trap_record;

/* Make one access (start.S); returns the loaded value for a load. A trap returns here too,
   with trap_record.trapped set. */
uint64_t run_access(uint64_t kind, uint64_t va, uint64_t mstatus_bits, uint64_t marker);

#endif
