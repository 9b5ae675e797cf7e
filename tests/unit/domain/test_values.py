import pytest
from hypothesis import given
from hypothesis import strategies as st

from vmcore.domain import (
    Architecture,
    InvalidValue,
    MemoryRegion,
    Trn,
    VmConfig,
    format_memory_size,
    parse_memory_size,
)
from vmcore.testing import trns, vm_configs


@pytest.mark.parametrize(
    ("text", "expected"),
    [("512M", 512 << 20), ("2G", 2 << 30), ("4096", 4096), ("64k", 64 << 10),
     ("1GiB", 1 << 30), (8192, 8192)],
)
def test_memory_sizes_parse_with_units(text: str | int, expected: int) -> None:
    assert expected == parse_memory_size(text)


@pytest.mark.parametrize("text", ["", "12Q", "-1M", "0", "100", "1.5G", True])
def test_bad_memory_sizes_are_refused_with_the_input_named(text: object) -> None:
    with pytest.raises(InvalidValue, match="memory size"):
        parse_memory_size(text)  # type: ignore[arg-type]


@given(st.integers(1, 1 << 30))
def test_formatted_sizes_parse_back(pages: int) -> None:
    size = pages * 4096
    assert size == parse_memory_size(format_memory_size(size))


def test_config_validators_name_the_problem() -> None:
    with pytest.raises(InvalidValue, match="vCPU count"):
        VmConfig(vcpus=0)
    with pytest.raises(InvalidValue, match="unknown architecture 'sparc'"):
        VmConfig(arch="sparc")
    with pytest.raises(InvalidValue, match="unknown flag"):
        VmConfig(flags=frozenset({"turbo"}))
    with pytest.raises(InvalidValue, match="max_vcpus"):
        VmConfig(vcpus=4, max_vcpus=2)
    with pytest.raises(InvalidValue, match="max_memory"):
        VmConfig(memory="1G", max_memory="512M")


def test_config_accepts_units_and_arch_names() -> None:
    config = VmConfig(vcpus=2, memory="512M", arch="x86_64", flags=frozenset({"jit"}))
    assert (512 << 20, Architecture.X86_64) == (config.memory, config.arch)


@given(vm_configs())
def test_config_round_trips_through_primitives(config: VmConfig) -> None:
    assert config == VmConfig.from_primitive(config.to_primitive())


@given(trns())
def test_trns_round_trip_through_text(trn: Trn) -> None:
    assert trn == Trn.parse(str(trn))


def test_trn_patterns() -> None:
    trn = Trn.parse("trn:vm:web-1:vcpu:0")
    assert trn.matches("trn:vm:**")
    assert trn.matches("trn:vm:*:vcpu:*")
    assert not trn.matches("trn:vm:*")
    assert not trn.matches("trn:user:**")


@pytest.mark.parametrize("text", ["vm:web", "trn:vm", "trn::x", "trn:vm:a b"])
def test_bad_trns_are_refused(text: str) -> None:
    with pytest.raises(InvalidValue):
        Trn.parse(text)


def test_regions_overlap_only_when_they_share_bytes() -> None:
    low = MemoryRegion("a", 0, 4096)
    assert low.overlaps(MemoryRegion("b", 4095, 2))
    assert not low.overlaps(MemoryRegion("c", 4096, 4096))
