"""What the differential MMU tests share: where they aim their accesses (the RISC-V and
x86 suites) and the x86 contexts they make them in (the Unicorn and QEMU 7.2 suites)."""

from __future__ import annotations

from hypothesis import strategies as st

from vmcore_domain_services.mmu import X86Context

ACCESS_TARGETS = st.integers(0, 9).flatmap(
    lambda n: (
        st.tuples(st.integers(0, 0xFFF), st.just(False))  # inside a mapped page
        if n < 7
        else st.tuples(st.integers(0, 2**31 - 1), st.just(False))  # near one
        if n < 9
        else st.tuples(st.integers(0, 2**64 - 1), st.just(True))
    )  # anywhere
)
"""(offset or address, is_absolute): mostly inside mapped pages, sometimes anywhere."""

X86_CONTEXTS = st.builds(
    X86Context,
    cpl=st.sampled_from([0, 3]),
    wp=st.booleans(),
    smep=st.booleans(),
    smap=st.booleans(),
    nxe=st.booleans(),
    ac=st.booleans(),
)
"""Every combination of CPL, CR0.WP, CR4.SMEP/SMAP, EFER.NXE and RFLAGS.AC."""
