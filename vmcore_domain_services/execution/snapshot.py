"""Machine state snapshots: registers, CSRs, devices and content-addressed memory pages.

A :class:`MachineState` maps every non-zero RAM page to the SHA-256 of its 4 KiB and keeps
the bytes of the pages it introduced in ``blobs``; a diff state (``base`` set) stores only
the pages written since its base, and finds the others through the base chain. Restoring
a state and running on gives exactly the state of a machine that never stopped: time is
derived from the retired-instruction count, which the state carries.
"""

from __future__ import annotations

import hashlib
from collections.abc import Mapping
from typing import TYPE_CHECKING, Any

from attrs import field, frozen

from vmcore_domain_services.memory import PAGE_SIZE

if TYPE_CHECKING:
    from .machine import Machine

__all__ = ["MachineState", "capture", "restore"]


def _str_ints(value: Mapping[str, int]) -> dict[str, int]:
    return dict(value)


def _str_opt_ints(value: Mapping[str, int | None]) -> dict[str, int | None]:
    return dict(value)


def _pages(value: Mapping[int, str]) -> dict[int, str]:
    return dict(value)


def _blobs(value: Mapping[str, bytes]) -> dict[str, bytes]:
    return dict(value)


def _digest(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


_ZERO_PAGE = _digest(bytes(PAGE_SIZE))


@frozen
class MachineState:
    """Everything needed to resume a machine. Equality compares architectural state only."""

    pc: int
    privilege: int
    registers: tuple[int, ...]
    csrs: Mapping[str, int] = field(converter=_str_ints)
    instret: int
    reservation: int | None
    devices: Mapping[str, int | None] = field(converter=_str_opt_ints)
    pages: Mapping[int, str] = field(converter=_pages)
    """RAM page number (address >> 12) -> SHA-256 of its content."""
    blobs: Mapping[str, bytes] = field(converter=_blobs, eq=False, repr=False)
    """Page contents stored in this state, by digest (only new ones in a diff)."""
    base: MachineState | None = field(default=None, eq=False, repr=False)

    @property
    def kind(self) -> str:
        return "full" if self.base is None else "diff"

    def blob(self, digest: str) -> bytes:
        """The content of a page by digest, looked up along the base chain."""
        state: MachineState | None = self
        while state is not None:
            data = state.blobs.get(digest)
            if data is not None:
                return data
            state = state.base
        raise KeyError(f"page content {digest} is in no snapshot of the chain")

    def to_primitives(self) -> dict[str, Any]:
        """This state as primitives (for a snapshot store): page contents as ``bytes``, the
        base (if any) left out; pass it back to :meth:`from_primitives`."""
        return {
            "pc": self.pc,
            "privilege": self.privilege,
            "registers": list(self.registers),
            "csrs": dict(self.csrs),
            "instret": self.instret,
            "reservation": self.reservation,
            "devices": dict(self.devices),
            "pages": {str(number): digest for number, digest in self.pages.items()},
            "blobs": dict(self.blobs),
            "kind": self.kind,
        }

    @classmethod
    def from_primitives(
        cls, data: Mapping[str, Any], base: MachineState | None = None
    ) -> MachineState:
        """Rebuild a state from :meth:`to_primitives`; a diff needs its ``base`` state."""
        if data["kind"] == "diff" and base is None:
            raise ValueError("a diff snapshot needs its base state")
        return cls(
            pc=data["pc"],
            privilege=data["privilege"],
            registers=tuple(data["registers"]),
            csrs=data["csrs"],
            instret=data["instret"],
            reservation=data["reservation"],
            devices=data["devices"],
            pages={int(number): digest for number, digest in data["pages"].items()},
            blobs={digest: bytes(blob) for digest, blob in data["blobs"].items()},
            base=base if data["kind"] == "diff" else None,
        )

    def stored_bytes(self) -> int:
        """Bytes of page content this state itself stores."""
        return sum(len(b) for b in self.blobs.values())


def capture(
    machine: Machine, base: MachineState | None, dirty: frozenset[int] | None
) -> MachineState:
    """Capture ``machine``; with ``base``, store only pages in ``dirty`` (or changed pages)."""
    memory = machine.memory
    hart = machine.hart
    pages: dict[int, str] = dict(base.pages) if base is not None else {}
    blobs: dict[str, bytes] = {}
    if base is not None and dirty is not None:
        candidates = [(n, memory.read_bytes(n << 12, PAGE_SIZE)) for n in sorted(dirty)]
    else:
        candidates = list(memory.pages())
    for number, data in candidates:
        digest = _digest(data)
        if digest == _ZERO_PAGE:
            pages.pop(number, None)  # all-zero pages are implicit
            continue
        if base is not None and pages.get(number) == digest:
            continue
        pages[number] = digest
        if base is None or not _known(base, digest):
            blobs[digest] = data
    clint = machine.clint
    return MachineState(
        pc=hart.pc,
        privilege=hart.priv,
        registers=tuple(hart.x),
        csrs={f"{k:#05x}": v for k, v in hart.csr.values.items()},
        instret=hart.instret,
        reservation=hart.reservation,
        devices={
            "clint.mtimecmp": clint.mtimecmp,
            "clint.time_offset": clint.time_offset,
            "clint.msip": clint.msip,
            "finisher.exit_code": machine.finisher.exit_code,
            "hart.reservation_value": hart.reservation_value,
        },
        pages=pages,
        blobs=blobs,
        base=base,
    )


def _known(state: MachineState, digest: str) -> bool:
    try:
        state.blob(digest)
    except KeyError:
        return False
    return True


def restore(machine: Machine, state: MachineState) -> None:
    """Load ``state`` into ``machine`` (caches are the caller's to drop)."""
    memory = machine.memory
    memory.reset()
    for number, digest in state.pages.items():
        memory.load_page(number, state.blob(digest))
    hart = machine.hart
    hart.x[:] = state.registers
    hart.pc = state.pc
    hart.priv = state.privilege
    hart.instret = state.instret
    hart.reservation = state.reservation
    hart.reservation_value = int(state.devices.get("hart.reservation_value") or 0)
    hart.csr.values.clear()
    hart.csr.values.update({int(k, 16): v for k, v in state.csrs.items()})
    clint = machine.clint
    clint.mtimecmp = int(state.devices["clint.mtimecmp"] or 0)
    clint.time_offset = int(state.devices["clint.time_offset"] or 0)
    clint.msip = int(state.devices["clint.msip"] or 0)
    code = state.devices["finisher.exit_code"]
    machine.finisher.exit_code = None if code is None else int(code)
