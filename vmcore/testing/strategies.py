"""Hypothesis strategies for vmcore's values and command sequences, for your own tests."""

from __future__ import annotations

from typing import Any

from hypothesis import strategies as st

from vmcore.domain import KNOWN_FLAGS, PAGE_SIZE, Architecture, PauseReason, Trn, VmConfig
from vmcore.domain.lifecycle import TRANSITIONS

_SEGMENT = st.from_regex(r"[a-z0-9][a-z0-9._-]{0,11}", fullmatch=True)


def trns(kinds: st.SearchStrategy[str] | None = None) -> st.SearchStrategy[Trn]:
    """TRNs such as ``trn:user:alice`` or ``trn:vm:web-1:vcpu:0``."""
    kinds = kinds or st.sampled_from(["user", "vm", "host", "agent", "service"])
    return st.builds(lambda kind, name, rest: Trn((kind, name, *rest)),
                     kinds, _SEGMENT, st.lists(_SEGMENT, max_size=2))


def vm_names() -> st.SearchStrategy[str]:
    return st.from_regex(r"[a-z][a-z0-9-]{0,14}[a-z0-9]", fullmatch=True)


def memory_sizes(max_pages: int = 1 << 20) -> st.SearchStrategy[int]:
    """Byte sizes that are whole pages, from 4 KiB to ``max_pages`` pages."""
    return st.integers(1, max_pages).map(lambda pages: pages * PAGE_SIZE)


@st.composite
def vm_configs(draw: st.DrawFn, *, with_limits: bool | None = None) -> VmConfig:
    """Valid VM configurations, with hot-plug limits or not."""
    vcpus = draw(st.integers(1, 16))
    memory = draw(memory_sizes(1 << 16))
    limits = draw(st.booleans()) if with_limits is None else with_limits
    return VmConfig(
        vcpus=vcpus,
        memory=memory,
        arch=draw(st.sampled_from(list(Architecture))),
        flags=frozenset(draw(st.sets(st.sampled_from(sorted(KNOWN_FLAGS))))),
        max_vcpus=draw(st.integers(vcpus, 32)) if limits else None,
        max_memory=draw(st.integers(memory // PAGE_SIZE, 1 << 17)) * PAGE_SIZE if limits else None,
    )


def command_names() -> st.SearchStrategy[str]:
    """Any lifecycle command of the table (legal or not in a given state)."""
    return st.sampled_from(sorted(TRANSITIONS))


@st.composite
def command_arguments(draw: st.DrawFn, command: str) -> dict[str, Any]:
    """Plausible keyword arguments for ``command`` (ids drawn from small pools so that
    later commands refer to earlier ones)."""
    region = draw(st.sampled_from(["r0", "r1", "r2"]))
    if command == "update_config":
        return {"config": draw(vm_configs())}
    pools: dict[str, Any] = {
        "pause": {"reason": draw(st.sampled_from(list(PauseReason)))},
        "crash": {"reason": "guest fault"},
        "fail_start": {"error": "firmware missing"},
        "guest_exited": {"exit_code": draw(st.integers(0, 255))},
        "stop": {"force": draw(st.booleans())},
        "snapshot": {"snapshot_id": draw(st.sampled_from(["s0", "s1"]))},
        "restore": {"snapshot_id": draw(st.sampled_from(["s0", "s1"])),
                    "resume": draw(st.booleans())},
        "migrate": {"destination": "trn:host:node-2"},
        "allocate_memory": {"region_id": region,
                            "base": draw(st.integers(0, 64)) * PAGE_SIZE * 16,
                            "size": draw(st.integers(1, 32)) * PAGE_SIZE * 16},
        "free_memory": {"region_id": region},
        "map_memory": {"region_id": region, "host_address": 0x7F00_0000_0000},
        "unmap_memory": {"region_id": region},
        "add_device": {"device_id": draw(st.sampled_from(["net0", "blk0"])),
                       "kind": "virtio"},
        "remove_device": {"device_id": draw(st.sampled_from(["net0", "blk0"]))},
    }
    return dict(pools.get(command, {}))


@st.composite
def command_sequences(draw: st.DrawFn, max_size: int = 30) -> list[tuple[str, dict[str, Any]]]:
    """Sequences of (command, kwargs) to run on one VM, legal and illegal mixed."""
    names = draw(st.lists(command_names(), max_size=max_size))
    return [(name, draw(command_arguments(name))) for name in names]
