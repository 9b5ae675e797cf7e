"""Unicorn (QEMU) as a test oracle: the pieces its Python binding lacks.

``uc_vmem_translate(uc, va, prot, &pa)`` walks the guest's page tables with QEMU's own MMU
at the CPU's current privilege; Unicorn 2.1.4 exports it from C but its Python binding does
not wrap it. Needs the ``unicorn`` package (a dev dependency of vmcore).
"""

from __future__ import annotations

import ctypes
from collections.abc import Callable
from typing import Any

VmemTranslate = Callable[[Any, int, int, Any], int]


def unicorn_vmem_translate() -> VmemTranslate:
    """The typed C function: call it as ``f(uc._uch, va, UC_PROT_*, ctypes.byref(pa))``;
    it returns a ``uc_err`` (0 when ``pa`` holds the translation)."""
    from unicorn.unicorn_py3.unicorn import uclib

    function = uclib.uc_vmem_translate
    function.argtypes = [ctypes.c_void_p, ctypes.c_uint64, ctypes.c_int,
                         ctypes.POINTER(ctypes.c_uint64)]
    function.restype = ctypes.c_int
    return function
