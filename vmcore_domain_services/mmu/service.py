"""The MMU service of one vCPU: TLB, then walk on a miss, then fill; bus handlers."""

from __future__ import annotations

from collections.abc import Callable
from uuid import UUID

from vmcore.domain.runtime import RuntimeEvent, RuntimePublisher, discard_runtime_event
from vmcore_domain_services.mmu.access import Access, Privilege, RiscvContext, X86Context
from vmcore_domain_services.mmu.faults import TLB_FLUSHED_TOPIC, raise_mmu_exception
from vmcore_domain_services.mmu.flushing import FLUSHING_TOPICS
from vmcore_domain_services.mmu.modes import PagingMode, root_from_cr3, root_from_satp
from vmcore_domain_services.mmu.permissions import tlb_table_for
from vmcore_domain_services.mmu.protocols import PhysicalMemory
from vmcore_domain_services.mmu.results import PageFault, Translation
from vmcore_domain_services.mmu.tlb import Tlb, TlbStats, Translate
from vmcore_domain_services.mmu.walker import walk


class MmuService:
    """Translates guest virtual addresses for one vCPU.

    ``mode`` None means Bare (no translation). The TLB is tagged with the current ASID
    (RISC-V satp.ASID, x86 PCID); permission changes in ``context`` (privilege, SUM, MXR,
    WP, SMEP, SMAP...) take effect at once because every hit is re-checked.

    ``translate(va, access)`` is the executor's entry point: the physical address of
    ``va`` for ``access``, or ``MmuTrap`` on a fault. It is a function bound by the TLB
    (:meth:`Tlb.bind`) to the current ASID and permission table, rebound whenever either
    changes: a hit in the first level (``tlb.first_level``, the one micro-TLB) is one dict
    probe and one addition. Bare mode (and RISC-V M-mode) goes through the same first level,
    filled with the identity. ``cacheable(pa, access)``, if set before the next rebind, says
    which results may enter the first level (the memory port admits RAM pages only).
    """

    translate: Translate

    def __init__(
        self,
        memory: PhysicalMemory,
        mode: PagingMode | None = None,
        root: int = 0,
        context: RiscvContext | X86Context | None = None,
        *,
        asid: int = 0,
        vm_id: UUID | None = None,
        publish: RuntimePublisher = discard_runtime_event,
        tlb: Tlb | None = None,
    ) -> None:
        self.memory = memory
        self.vm_id = vm_id
        self._publish = publish
        self._mode = mode
        self._root = root
        self._asid = asid
        self._context: RiscvContext | X86Context = context or RiscvContext()
        shifts = tuple(mode.page_shift_at(level) for level in mode.leaf_levels) if mode else ()
        self.tlb = tlb if tlb is not None else Tlb(shifts[:3] or (12, 21, 30))
        self._table = tlb_table_for(self._context)
        self._bare = False
        self.cacheable: Callable[[int, Access], bool] | None = None
        self._rebind()
        self.page_faults = 0

    # -- translation ----------------------------------------------------------------------
    def _walk(self, va: int, access: Access) -> int:
        """``translate`` past both TLB levels: walk, then fill the sets (or raise)."""
        assert self._mode is not None
        result = walk(self._mode, self._root, va, access, self._context, self.memory)
        if isinstance(result, PageFault):
            self.page_faults += 1
            raise_mmu_exception(result, self.vm_id, self._publish)
        if result.global_mapping and not _globals_enabled(self._context):
            result = result._replace(global_mapping=False)
        self.tlb.insert(va, self._asid, result)
        return result.physical_address

    def probe(self, va: int, access: Access) -> Translation | PageFault:
        """What a walk would return now, with no side effects (no TLB fill, no A/D write)."""
        if self._bare or self._mode is None:
            return Translation(va, 4096, 0xFF, 7, False, (), 0)
        return walk(self._mode, self._root, va, access, self._context, self.memory, probe=True)

    # -- architectural state --------------------------------------------------------------
    @property
    def context(self) -> RiscvContext | X86Context:
        return self._context

    def set_context(self, context: RiscvContext | X86Context) -> None:
        """New privilege / status bits; needs no flush (the sets re-check every hit, and
        each context has its own micro-TLB), except a change of x86 CR4.PGE, which
        flushes the whole TLB (SDM 4.10.4.1)."""
        if _globals_enabled(context) != _globals_enabled(self._context):
            self._flushed("all", self.tlb.flush(), "cr4.pge")
        self._context = context
        self._table = tlb_table_for(context)
        self._rebind()

    def write_satp(self, satp: int) -> None:
        """RISC-V satp write: new mode, root and ASID. Like hardware, no implicit flush:
        software follows with sfence.vma."""
        self._mode, self._root, self._asid = root_from_satp(satp)
        self._rebind()

    def write_cr3(self, cr3: int, pcide: bool = False) -> None:
        """x86-64 CR3 write: new root; flushes the non-global entries of the new PCID
        (all PCIDs without CR4.PCIDE) unless bit 63 (no-flush, PCIDE only) is set."""
        self._root, self._asid = root_from_cr3(cr3, pcide)
        self._rebind()
        if pcide and cr3 >> 63:
            return
        if pcide:
            self._flushed("pcid", self.tlb.invalidate_asid(self._asid))
        else:
            self._flushed("non_global", self.tlb.flush(keep_global=True))

    def sfence_vma(self, va: int | None = None, asid: int | None = None) -> None:
        """RISC-V ``sfence.vma``; None stands for x0."""
        scope = "all" if va is None and asid is None else ("address" if va is not None else "asid")
        self._flushed(scope, self.tlb.sfence_vma(va, asid))

    def invlpg(self, va: int) -> None:
        """x86-64 ``invlpg``: the entries for ``va`` of the current PCID, and global ones."""
        self._flushed("address", self.tlb.invalidate_address(va, self._asid, True))

    def flush_tlb(self, reason: str = "explicit") -> None:
        self._flushed("all", self.tlb.flush(), reason)

    def stats(self) -> TlbStats:
        return self.tlb.stats()

    # -- bus ------------------------------------------------------------------------------
    def bus_handlers(self) -> dict[str, Callable[[object], None]]:
        """Domain topics this service reacts to: each flushes the TLB of this VM."""
        return {topic: self._on_vm_event for topic in FLUSHING_TOPICS}

    def _on_vm_event(self, event: object) -> None:
        if self.vm_id is not None and getattr(event, "originator_id", None) != self.vm_id:
            return
        self.flush_tlb(reason=str(getattr(event, "bus_topic", type(event).__name__)))

    # -- helpers --------------------------------------------------------------------------
    def _rebind(self) -> None:
        self._bare = self._is_bare()
        if self._bare:
            self.translate = self.tlb.bind(0, _BARE, _untranslated, self.cacheable, sets=False)
        else:
            self.translate = self.tlb.bind(self._asid, self._table, self._walk, self.cacheable)

    def _is_bare(self) -> bool:
        if self._mode is None:
            return True
        context = self._context
        return isinstance(context, RiscvContext) and context.privilege == Privilege.MACHINE

    def _flushed(self, scope: str, dropped: int, reason: str = "instruction") -> None:
        self._publish(
            RuntimeEvent(
                TLB_FLUSHED_TOPIC,
                self.vm_id,
                {"scope": scope, "dropped": dropped, "reason": reason},
            )
        )


def _globals_enabled(context: RiscvContext | X86Context) -> bool:
    """Whether G entries are global: always on RISC-V, with CR4.PGE on x86-64."""
    return not isinstance(context, X86Context) or context.pge


_BARE = (0b111,) * 256
"""The permission table of Bare mode: every access, whatever the flags."""


def _untranslated(va: int, access: Access) -> int:
    """``translate`` in Bare mode (and in RISC-V M-mode): the identity."""
    return va
