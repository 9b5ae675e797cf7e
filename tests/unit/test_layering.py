"""DESIGN.md's dependency rules, checked by parsing every import of our packages."""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
OURS = ("vmcore", "vmcore_domain_services", "vmcore_event_store")
DOMAIN_THIRD_PARTY = ("attrs", "eventsourcing.domain", "eventsourcing.utils")
SIBLING_IMPORTERS = ("vmcore.application", "vmcore.container", "vmcore.cli", "vmcore.demo",
                     "vmcore.run", "vmcore.guest_command", "vmcore.store_command",
                     "vmcore.machine_snapshots")


def modules(package: str) -> list[tuple[str, Path]]:
    found = []
    for path in sorted((ROOT / package).rglob("*.py")):
        parts = list(path.relative_to(ROOT).with_suffix("").parts)
        if parts[-1] == "__init__":
            parts.pop()
        found.append((".".join(parts), path))
    return found


def imports(path: Path) -> set[str]:
    names: set[str] = set()
    for node in ast.walk(ast.parse(path.read_text(), str(path))):
        if isinstance(node, ast.Import):
            names.update(alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            names.add(node.module)
    return names


def ours(name: str) -> str | None:
    top = name.split(".")[0]
    return top if top in OURS else None


def within(name: str, prefix: str) -> bool:
    return name == prefix or name.startswith(prefix + ".")


@pytest.mark.parametrize(("module", "path"), modules("vmcore"), ids=lambda v: str(v))
def test_domain_imports_only_stdlib_attrs_and_eventsourcing_domain(module: str,
                                                                   path: Path) -> None:
    if not within(module, "vmcore.domain"):
        return
    import sys

    bad = {name for name in imports(path)
           if not (within(name, "vmcore.domain") or name.split(".")[0] in sys.stdlib_module_names
                   or any(within(name, allowed) for allowed in DOMAIN_THIRD_PARTY))}
    assert set() == bad


@pytest.mark.parametrize("package", ["vmcore_domain_services", "vmcore_event_store"])
def test_siblings_import_only_the_domain_of_vmcore(package: str) -> None:
    bad = {(module, name) for module, path in modules(package) for name in imports(path)
           if (ours(name) == "vmcore" and not within(name, "vmcore.domain"))
           or ours(name) not in (None, "vmcore", package)}
    assert set() == bad


def test_only_the_composition_layer_imports_the_siblings() -> None:
    bad = {(module, name) for module, path in modules("vmcore") for name in imports(path)
           if ours(name) in ("vmcore_domain_services", "vmcore_event_store")
           and not any(within(module, allowed) for allowed in SIBLING_IMPORTERS)}
    assert set() == bad


def test_every_public_package_lists_its_names() -> None:
    missing = [path for package in OURS for path in (ROOT / package).rglob("__init__.py")
               if "__all__" not in path.read_text() and path.read_text().strip()
               and "import" in path.read_text()]
    assert [] == missing
