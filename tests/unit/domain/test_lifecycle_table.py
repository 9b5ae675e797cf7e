"""The transition table is the single source: the docs' diagram and DESIGN.md agree with it."""

import re
from pathlib import Path

from vmcore.domain import TRANSITIONS, VirtualMachine, VmState, mermaid_state_diagram
from vmcore.domain.events import EVENT_CLASSES

ROOT = Path(__file__).resolve().parents[3]


def test_docs_state_diagram_is_the_generated_one() -> None:
    text = (ROOT / "docs" / "domain-model.md").read_text()
    block = re.search(r"```mermaid\n(.*?)```", text, re.S)
    assert block is not None
    assert mermaid_state_diagram().strip() == block.group(1).strip()


def test_every_row_names_an_event_class_nested_in_the_aggregate() -> None:
    for row in TRANSITIONS.values():
        assert issubclass(getattr(VirtualMachine, row.event), EVENT_CLASSES[0].__mro__[1])
        assert callable(getattr(VirtualMachine, row.command))


def test_every_state_but_deleted_allows_some_command() -> None:
    live = [state for state in VmState if state is not VmState.DELETED]
    for state in live:
        assert any(state in row.sources for row in TRANSITIONS.values()), state


def test_bus_topics_are_unique_dotted_names() -> None:
    topics = [cls.bus_topic for cls in EVENT_CLASSES]
    assert len(set(topics)) == len(topics)
    assert all(re.fullmatch(r"vm\.[a-z_]+", topic) for topic in topics)
