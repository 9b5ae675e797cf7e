"""Bus topics come from the event classes: every topic a service listens for exists, and no
shipped module outside the domain spells a domain topic as a literal."""

from __future__ import annotations

import ast
import re
from pathlib import Path

import pytest

from vmcore.bus.topics import topic_matches
from vmcore.domain import VirtualMachine
from vmcore.domain.topics import VM_EVENTS, domain_topics
from vmcore_domain_services.execution import Machine
from vmcore_domain_services.lifecycle import LifecycleStatistics

ROOT = Path(__file__).resolve().parents[2]
SHIPPED = ("vmcore", "vmcore_domain_services", "vmcore_event_store", "bench", "examples")
LITERAL = re.compile(r"^(vm|vm_name)\.[a-z_*]+$")

SERVICES = {
    "lifecycle statistics": LifecycleStatistics,
    "machine and its MMU": lambda: Machine(1 << 16, console=lambda b: None),
}


def test_the_topics_are_those_of_the_event_classes() -> None:
    topics = domain_topics()
    assert VirtualMachine.Stopped.bus_topic in topics
    assert "vm_name.claimed" in topics
    assert all(topic_matches(VM_EVENTS, t) for t in topics if t.startswith("vm."))


@pytest.mark.parametrize("service", sorted(SERVICES))
def test_every_topic_a_service_listens_for_exists(service: str) -> None:
    topics = domain_topics()
    patterns = SERVICES[service]().bus_handlers()
    assert patterns
    assert [] == [p for p in patterns if not any(topic_matches(p, t) for t in topics)]


def test_a_listener_for_a_topic_that_does_not_exist_is_caught() -> None:
    topics = domain_topics()
    assert not any(topic_matches("vm.stoped", t) for t in topics)


def _domain_topic_literals(path: Path) -> list[str]:
    tree = ast.parse(path.read_text(), str(path))
    return [
        f"{path.relative_to(ROOT)}:{node.lineno}: {node.value!r}"
        for node in ast.walk(tree)
        if isinstance(node, ast.Constant) and isinstance(node.value, str)
        and LITERAL.match(node.value)
    ]


def test_no_domain_topic_literal_outside_the_domain() -> None:
    found = [
        hit
        for package in SHIPPED
        for path in sorted((ROOT / package).rglob("*.py"))
        if "domain" not in path.relative_to(ROOT).parts[:2] or package != "vmcore"
        for hit in _domain_topic_literals(path)
    ]
    assert [] == found
