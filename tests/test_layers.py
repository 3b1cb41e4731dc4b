"""The import layers: no circle, the core below the connectors, exporters beside the engine.

``lint-imports`` (import-linter, configured in pyproject.toml) runs in CI; these tests
run it too, check that it really inspects the code (a contract the code breaks is
reported broken), and look for import circles between modules and between
subpackages with grimp, the graph library import-linter is built on.
"""

from __future__ import annotations

import os
import subprocess
import sys
from collections import defaultdict
from pathlib import Path

import grimp
import pytest

ROOT = Path(__file__).resolve().parents[1]
PACKAGES = ("discover", "connectors", "exporters", "mappings")


def _lint(config: Path | None = None) -> subprocess.CompletedProcess[str]:
    # lint-imports' own entry point, with this tree's packages first on the path
    code = "import sys; from importlinter.cli import lint_imports_command; lint_imports_command()"
    command = [sys.executable, "-c", code, "--no-cache"]
    if config is not None:
        command += ["--config", str(config)]
    env = {**os.environ, "PYTHONPATH": str(ROOT)}
    return subprocess.run(
        command, cwd=ROOT, env=env, capture_output=True, text=True, timeout=300, check=False
    )


def test_lint_imports_keeps_every_contract() -> None:
    result = _lint()
    assert result.returncode == 0, result.stdout + result.stderr
    assert "0 broken" in result.stdout


def test_lint_imports_reports_a_broken_contract(tmp_path: Path) -> None:
    # The engine does import the connectors: a contract forbidding it must fail.
    config = tmp_path / "importlinter.toml"
    config.write_text(
        '[tool.importlinter]\nroot_packages = ["discover", "connectors"]\n'
        "[[tool.importlinter.contracts]]\n"
        'name = "engine without connectors"\ntype = "forbidden"\n'
        'source_modules = ["discover.engine"]\nforbidden_modules = ["connectors"]\n',
        "utf-8",
    )
    result = _lint(config)
    assert result.returncode == 1
    assert "BROKEN" in result.stdout


@pytest.fixture(scope="module")
def graph() -> grimp.ImportGraph:
    if str(ROOT) not in sys.path:
        sys.path.insert(0, str(ROOT))
    return grimp.build_graph(*PACKAGES, exclude_type_checking_imports=True, cache_dir=None)


def _cycles(edges: dict[str, set[str]]) -> list[list[str]]:
    """Strongly connected components with more than one member (Tarjan)."""
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    stack: list[str] = []
    on_stack: set[str] = set()
    found: list[list[str]] = []

    def visit(node: str) -> None:
        index[node] = low[node] = len(index)
        stack.append(node)
        on_stack.add(node)
        for target in edges.get(node, ()):
            if target not in index:
                visit(target)
                low[node] = min(low[node], low[target])
            elif target in on_stack:
                low[node] = min(low[node], index[target])
        if low[node] == index[node]:
            component = []
            while True:
                member = stack.pop()
                on_stack.discard(member)
                component.append(member)
                if member == node:
                    break
            if len(component) > 1:
                found.append(sorted(component))

    sys.setrecursionlimit(max(sys.getrecursionlimit(), 10_000))
    for node in list(edges):
        if node not in index:
            visit(node)
    return found


def _unit(module: str) -> str:
    """A module's subpackage or top module: discover.cli, connectors.sql, discover.engine."""
    return ".".join(module.split(".")[:2])


def test_no_import_circle_between_modules(graph: grimp.ImportGraph) -> None:
    edges = {m: set(graph.find_modules_directly_imported_by(m)) for m in graph.modules}
    assert _cycles(edges) == []


def test_no_import_circle_between_subpackages(graph: grimp.ImportGraph) -> None:
    edges: dict[str, set[str]] = defaultdict(set)
    for module in graph.modules:
        for target in graph.find_modules_directly_imported_by(module):
            if _unit(module) != _unit(target):
                edges[_unit(module)].add(_unit(target))
    assert _cycles(dict(edges)) == []


def test_the_cycle_finder_finds_a_circle() -> None:
    assert _cycles({"a": {"b"}, "b": {"c"}, "c": {"a"}, "d": {"a"}}) == [["a", "b", "c"]]


def test_the_core_loads_without_connectors_or_engine() -> None:
    code = (
        "import sys, discover, discover.mapping, discover.sources, exporters;"
        "print(sorted(m for m in sys.modules if m.split('.')[0] == 'connectors'"
        " or m == 'discover.engine'))"
    )
    env = {**os.environ, "PYTHONPATH": str(ROOT)}
    result = subprocess.run(
        [sys.executable, "-c", code], cwd=ROOT, env=env, capture_output=True, text=True, check=True
    )
    assert result.stdout.strip() == "[]"
