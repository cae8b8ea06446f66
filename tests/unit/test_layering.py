"""The packages of nozama/ import one way only (docs/architecture.md draws it).

The test walks every import statement (including those inside functions) with
ast and fails on an arrow that the table below does not allow, so an upward
import is caught when it is written, not when it makes a cycle.
"""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

PACKAGE = Path(__file__).resolve().parents[2] / "nozama"

# Which package may import which. Read bottom-up: each row may import only
# packages above it in this table (never the same row twice), so there is no cycle.
ALLOWED: dict[str, set[str]] = {
    "kernel": set(),
    "model": {"kernel"},
    "scheduler": {"kernel", "model"},
    "store": {"kernel", "model"},
    "agent": {"kernel", "model"},
    "metrics": {"kernel", "model", "store"},
    "lb": {"kernel", "model", "store", "metrics"},
    "registry": {"kernel", "model", "store", "metrics", "lb"},
    "functions": {"kernel", "model", "store", "metrics", "registry"},
    "controllers": {"kernel", "model", "scheduler", "store", "metrics", "lb", "registry",
                    "functions"},
    "aws": {"kernel", "model", "scheduler", "store", "metrics", "registry", "functions",
            "controllers"},
    "api": {"kernel", "model", "store", "metrics", "registry", "controllers", "aws"},
    "cli": {"kernel", "model", "scheduler", "store", "agent", "metrics", "lb", "registry",
            "functions", "controllers", "aws", "api"},
}
# nozama/__init__.py (the version) sits with the kernel; `python -m nozama` runs the CLI.
ROOT_MODULES = {"nozama": "kernel", "nozama.__main__": "cli"}


def module_name(path: Path, root: Path) -> str:
    parts = list(path.relative_to(root.parent).with_suffix("").parts)
    if parts[-1] == "__init__":
        parts.pop()
    return ".".join(parts)


def package_of(module: str) -> str:
    if module in ROOT_MODULES:
        return ROOT_MODULES[module]
    return module.split(".")[1]


def imported_modules(path: Path, module: str) -> list[tuple[int, str]]:
    """(line, module) for every nozama import in the file, relative ones resolved."""
    found = []
    package = module if path.name == "__init__.py" else module.rpartition(".")[0]
    for node in ast.walk(ast.parse(path.read_text(), str(path))):
        if isinstance(node, ast.Import):
            found += [(node.lineno, alias.name) for alias in node.names]
        elif isinstance(node, ast.ImportFrom):
            if node.level:
                base = package.split(".")[:len(package.split(".")) - node.level + 1]
                target = ".".join(base + ([node.module] if node.module else []))
            else:
                target = node.module or ""
            # `from nozama import x` imports the module nozama.x (or the root's __version__).
            if target == "nozama":
                found += [(node.lineno, "nozama" if alias.name.startswith("__")
                           else f"nozama.{alias.name}") for alias in node.names]
            else:
                found.append((node.lineno, target))
    return [(line, name) for line, name in found if name.split(".")[0] == "nozama"]


def wrong_way_imports(root: Path, allowed: dict[str, set[str]]) -> list[str]:
    problems = []
    for path in sorted(root.rglob("*.py")):
        if "migrations" in path.parts:
            continue  # Alembic's revision files import only SQLAlchemy and Alembic
        module = module_name(path, root)
        source = package_of(module)
        for line, target in imported_modules(path, module):
            target_package = package_of(target) if target != "nozama" else "kernel"
            if target_package == source:
                continue
            if source not in allowed:
                problems.append(f"{path}:{line}: package {source!r} is not in the layering table")
            elif target_package not in allowed[source]:
                problems.append(f"{path}:{line}: {source} must not import {target_package} "
                                f"({module} imports {target})")
    return problems


def test_every_package_is_in_the_table():
    packages = {p.name for p in PACKAGE.iterdir() if (p / "__init__.py").exists() or
                (p.is_dir() and any(p.glob("*.py")))}
    assert packages == set(ALLOWED)


def test_imports_point_one_way():
    assert wrong_way_imports(PACKAGE, ALLOWED) == []


def test_the_table_has_no_cycle():
    # A topological order exists: repeatedly remove the packages whose imports are all removed.
    remaining = dict(ALLOWED)
    while remaining:
        ready = [name for name, deps in remaining.items() if not deps & set(remaining)]
        assert ready, f"cycle among {sorted(remaining)}"
        for name in ready:
            del remaining[name]


def test_kernel_imports_nothing_of_nozama():
    for path in (PACKAGE / "kernel").rglob("*.py"):
        module = module_name(path, PACKAGE)
        outside = [t for _, t in imported_modules(path, module) if not t.startswith("nozama.kernel")]
        assert outside == [], path


@pytest.mark.parametrize("source, line", [
    ("model/rules.py", "from nozama.store import tasks\n"),
    ("store/tasks.py", "from nozama.api import server\n"),
    ("controllers/x.py", "def f():\n    from nozama.aws.ecs import services\n"),
    ("lb/x.py", "from ..metrics import series\nfrom ..controllers import y\n"),
    ("kernel/x.py", "import nozama.model.arns\n"),
])
def test_an_upward_import_is_caught(tmp_path, source, line):
    """The checker itself: a tree with one wrong-way import fails it."""
    root = tmp_path / "nozama"
    for package in ALLOWED:
        (root / package).mkdir(parents=True)
        (root / package / "__init__.py").write_text("")
    (root / "__init__.py").write_text("")
    (root / source).write_text(line)
    problems = wrong_way_imports(root, ALLOWED)
    assert len(problems) == 1 and source in problems[0], problems
