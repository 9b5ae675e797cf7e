"""DESIGN.md's dependency rules, checked by parsing every import of our packages.

Every module has a role, named by the folder it sits in; a module in no known role fails the
test, so a new folder has to be given its rules here. Relative imports are resolved against
the importing module, so ``from ..bus import X`` is judged like ``from vmcore.bus import X``.
"""

from __future__ import annotations

import ast
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
OURS = ("vmcore", "vmcore_domain_services", "vmcore_event_store")
SIBLINGS = ("vmcore_domain_services", "vmcore_event_store")
DOMAIN_THIRD_PARTY = ("attrs", "eventsourcing.domain", "eventsourcing.utils")

# role -> the parts of our code a module of that role may import (besides its own role and
# third-party libraries). The most specific role prefix wins.
ROLES: dict[str, tuple[str, ...]] = {
    "vmcore.domain": (),
    "vmcore.bus": ("vmcore.domain",),
    "vmcore.application": ("vmcore.domain", "vmcore.bus", *SIBLINGS),
    "vmcore.composition": ("vmcore.domain", "vmcore.bus", "vmcore.application", *SIBLINGS),
    "vmcore.entrypoints": ("vmcore.domain", "vmcore.bus", "vmcore.application",
                           "vmcore.composition", *SIBLINGS),
    "vmcore.testing": ("vmcore.domain", "vmcore.application"),
    "vmcore_domain_services": ("vmcore.domain",),
    "vmcore_event_store": ("vmcore.domain",),
}
# The package roots themselves: `vmcore/__init__.py` and `python -m vmcore`.
ROOT_MODULES = {"vmcore": (), "vmcore.__main__": ("vmcore.entrypoints",),
                "vmcore_domain_services": ("vmcore.domain",),
                "vmcore_event_store": ("vmcore.domain",)}


def modules(package: str) -> list[tuple[str, Path]]:
    found = []
    for path in sorted((ROOT / package).rglob("*.py")):
        parts = list(path.relative_to(ROOT).with_suffix("").parts)
        if parts[-1] == "__init__":
            parts.pop()
        found.append((".".join(parts), path))
    return found


ALL_MODULES = [item for package in OURS for item in modules(package)]


def imports(module: str, path: Path) -> set[str]:
    """Every module name ``path`` imports, relative imports resolved."""
    package = module if path.name == "__init__.py" else module.rpartition(".")[0]
    names: set[str] = set()
    for node in ast.walk(ast.parse(path.read_text(), str(path))):
        if isinstance(node, ast.Import):
            names.update(alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom):
            if node.level:
                base = package.split(".")
                base = base[:len(base) - (node.level - 1)]
                prefix = ".".join(base)
                names.add(f"{prefix}.{node.module}" if node.module else prefix)
            elif node.module:
                names.add(node.module)
    return names


def within(name: str, prefix: str) -> bool:
    return name == prefix or name.startswith(prefix + ".")


def role_of(module: str) -> str | None:
    if module in ROOT_MODULES:
        return module
    matches = [role for role in ROLES if within(module, role)]
    return max(matches, key=len) if matches else None


def allowed(module: str) -> tuple[str, ...]:
    if module in ROOT_MODULES:
        return (*ROOT_MODULES[module], module)
    role = role_of(module)
    assert role is not None
    return (*ROLES[role], role)


def test_every_module_has_a_role() -> None:
    assert [] == [module for module, _ in ALL_MODULES if role_of(module) is None]


def test_relative_imports_are_resolved() -> None:
    path = ROOT / "vmcore_domain_services" / "riscv" / "csr.py"
    assert "vmcore_domain_services.riscv.errors" in imports("vmcore_domain_services.riscv.csr",
                                                           path)


@pytest.mark.parametrize(("module", "path"), ALL_MODULES, ids=lambda v: str(v))
def test_each_module_imports_only_what_its_role_allows(module: str, path: Path) -> None:
    permitted = allowed(module)
    bad = {name for name in imports(module, path)
           if name.split(".")[0] in OURS and not any(within(name, ok) for ok in permitted)}
    assert set() == bad


@pytest.mark.parametrize(("module", "path"),
                         [item for item in ALL_MODULES if within(item[0], "vmcore.domain")],
                         ids=lambda v: str(v))
def test_domain_imports_only_stdlib_attrs_and_eventsourcing_domain(module: str,
                                                                   path: Path) -> None:
    bad = {name for name in imports(module, path)
           if not (within(name, "vmcore.domain") or name.split(".")[0] in sys.stdlib_module_names
                   or any(within(name, ok) for ok in DOMAIN_THIRD_PARTY))}
    assert set() == bad


def test_every_public_package_lists_its_names() -> None:
    missing = [path for package in OURS for path in (ROOT / package).rglob("__init__.py")
               if "__all__" not in path.read_text() and path.read_text().strip()
               and "import" in path.read_text()]
    assert [] == missing
