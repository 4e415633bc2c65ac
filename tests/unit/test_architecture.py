"""The shape of the code: import contracts, no import cycles, small modules, and dependencies declared where used.

* ``lint-imports`` checks the layer contracts written in ``pyproject.toml``.
* No module of ``triage`` imports itself back through others (cycles hide layering mistakes).
* No module of ``triage`` or ``functions`` is longer than :data:`MAX_LINES`.
* ``requirements.txt`` (what Azure builds the Function app from) lists exactly the distributions the
  Function app's code imports, and ``pyproject.toml``'s dependencies cover every module-level import
  of the command line, so ``pip install .`` gives a ``triage`` that starts.
"""

from __future__ import annotations

import ast
import re
import subprocess
import sys
import tomllib
from functools import cache
from importlib import metadata
from pathlib import Path

import grimp
import pytest

from tests.conftest import ROOT

MAX_LINES = 300
FIRST_PARTY = ("triage", "functions", "function_app", "training_job")


def test_import_contracts_hold() -> None:
    lint = Path(sys.executable).with_name("lint-imports")
    done = subprocess.run([str(lint), "--no-cache"], cwd=ROOT, capture_output=True, text=True, timeout=300)
    assert done.returncode == 0, done.stdout[-3000:] + done.stderr[-2000:]
    assert "broken" not in done.stdout.split("Contracts:")[-1].replace("0 broken", "")


def test_no_import_cycles_between_modules() -> None:
    graph = grimp.build_graph("triage")
    cycles = []
    for module in sorted(graph.modules):
        for imported in graph.find_modules_directly_imported_by(module):
            if imported != module and graph.chain_exists(importer=imported, imported=module):
                cycles.append((module, imported))
    assert cycles == []


@pytest.mark.parametrize("path", sorted(p.relative_to(ROOT).as_posix() for folder in ("triage", "functions")
                                         for p in (ROOT / folder).rglob("*.py")))
def test_modules_are_small(path: str) -> None:
    assert len((ROOT / path).read_text(encoding="utf-8").splitlines()) <= MAX_LINES, f"split {path} by role"


# --- dependencies ---------------------------------------------------------------------------------------------

def _module_file(name: str) -> Path | None:
    parts = name.split(".")
    for candidate in (ROOT.joinpath(*parts).with_suffix(".py"), ROOT.joinpath(*parts, "__init__.py")):
        if candidate.is_file():
            return candidate
    return None


def _imports(path: Path, lazy: bool) -> set[str]:
    """Absolute module names ``path`` imports: at module level, or (``lazy``) anywhere in it."""
    tree = ast.parse(path.read_text(encoding="utf-8"))
    package = ".".join(path.relative_to(ROOT).with_suffix("").parts[:-1])
    nodes = ast.walk(tree) if lazy else [n for n in tree.body if isinstance(n, (ast.Import, ast.ImportFrom))]
    found: set[str] = set()
    for node in nodes:
        if isinstance(node, ast.Import):
            found.update(alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom):
            base = node.module or ""
            if node.level:
                base = ".".join(package.split(".")[: len(package.split(".")) - node.level + 1] + ([base] if base else []))
            found.add(base)
            found.update(f"{base}.{alias.name}" for alias in node.names)  # `from pkg import module`
    return found


def closure(start: str, lazy: bool) -> set[str]:
    """Every module imported from ``start`` on, following first-party modules; the third-party names it reaches."""
    seen, outside, todo = set(), set(), [start]
    while todo:
        name = todo.pop()
        if name in seen:
            continue
        seen.add(name)
        path = _module_file(name)
        if path is None:
            if name.split(".")[0] not in FIRST_PARTY:
                outside.add(name)
            continue
        parent = name.rsplit(".", 1)[0] if "." in name else None
        todo.extend(_imports(path, lazy) | ({parent} if parent else set()))
    return {name for name in outside if name.split(".")[0] not in sys.stdlib_module_names}


@cache
def _files_of_distributions() -> dict[str, str]:
    owners: dict[str, str] = {}
    for dist in metadata.distributions():
        for file in dist.files or ():
            owners.setdefault(str(file).replace("\\", "/"), dist.metadata["Name"])
    return owners


def distribution(module: str) -> str | None:
    """The distribution that installs ``module`` (its longest importable prefix), normalised."""
    owners = _files_of_distributions()
    parts = module.split(".")
    for end in range(len(parts), 0, -1):
        base = "/".join(parts[:end])
        for candidate in (f"{base}/__init__.py", f"{base}.py"):
            if candidate in owners:
                return normalise(owners[candidate])
        shared = {owner for file, owner in owners.items() if file.startswith(base + "/") or file.startswith(base + ".")}
        if len(shared) == 1 and end == len(parts):
            return normalise(shared.pop())
    return None


def normalise(name: str) -> str:
    return re.sub(r"[-_.]+", "-", name).lower()


def requirement_names(lines: list[str]) -> set[str]:
    return {normalise(re.split(r"[=<>!~\[; ]", line.strip(), maxsplit=1)[0]) for line in lines
            if line.strip() and not line.strip().startswith(("#", "-"))}


def test_function_app_requirements_are_exactly_what_it_imports() -> None:
    imported = {distribution(name) for name in closure("function_app", lazy=True)} - {None}
    listed = requirement_names((ROOT / "requirements.txt").read_text().splitlines())
    assert listed == imported, (f"missing from requirements.txt: {sorted(imported - listed)}; "
                                f"not imported by the app: {sorted(listed - imported)}")


def test_package_dependencies_cover_the_command_line() -> None:
    project = tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]
    declared = requirement_names(project["dependencies"])
    needed = {distribution(name) for name in closure("triage.cli.main", lazy=False)} - {None}
    assert needed <= declared, f"`pip install .` would lack {sorted(needed - declared)}"
    app = requirement_names((ROOT / "requirements.txt").read_text().splitlines())
    assert not {"matplotlib", "pandas", "torch", "transformers"} & app, "the Function app stays light"
