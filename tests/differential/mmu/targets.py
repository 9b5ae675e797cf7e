"""Where the differential MMU tests aim their accesses (shared by the RISC-V and x86 suites)."""

from __future__ import annotations

from hypothesis import strategies as st

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
