/* What the host (x86_batch.py) and the probe agree on: physical layout and record formats.
 * Keep in step with tests/differential/qemu_system/x86_layout.py. */
#ifndef PROBE_ABI_H
#define PROBE_ABI_H

#define PROBE_BASE      0x100000  /* the image: Multiboot header first, then code and data */
#define USER_STUB_PA    0x101000  /* one page of CPL-3 code, mapped user-accessible */
#define COMMANDS_PA     0x200000  /* the batch, loaded with -device loader */
#define TABLES_PA       0x400000  /* the paging structures under test, loaded likewise */
#define TABLES_END      0x1000000
#define PATTERN_PA      0x1000000 /* every 8-byte word holds its own physical address */
#define PATTERN_END     0x4000000

#define BATCH_MAGIC     0x45424f5250584d56ULL  /* "VMXPROBE" little-endian */
#define HEADER_BYTES    64
#define CASE_BYTES      128
#define WORDS_PER_CASE  5

/* case flags */
#define CASE_ACCESS_MASK 0x3      /* 0 fetch, 1 load, 2 store */
#define CASE_CPL3        (1 << 2)
#define CASE_WP          (1 << 3)
#define CASE_SMEP        (1 << 4)
#define CASE_SMAP        (1 << 5)
#define CASE_NXE         (1 << 6)
#define CASE_AC          (1 << 7)
#define CASE_PA_VALID    (1 << 8) /* the host predicts success at a PA the probe may touch */

#define DONE_VECTOR     0x81      /* the probe's "access completed" software interrupt */
#define USER_FETCH_OFFSET 0x00
#define USER_LOAD_OFFSET  0x10
#define USER_STORE_OFFSET 0x20

#define KERNEL_CS 0x08
#define KERNEL_DS 0x10
#define USER_DS   0x18
#define USER_CS   0x20
#define TSS_SEL   0x28

#endif
