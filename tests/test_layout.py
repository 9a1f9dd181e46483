"""The package's shape: data flow one way, no cycles, small modules.

A static reading of every module's top-level imports (imports inside
functions are lazy by design and do not count; neither do imports under
``TYPE_CHECKING``).
"""

from __future__ import annotations

import ast
from pathlib import Path

PMT = Path(__file__).resolve().parent.parent / "pmt"
#: "no module is over about 600 lines"
MAX_LINES = 650


def _modules() -> dict[str, Path]:
    out = {}
    for path in PMT.rglob("*.py"):
        parts = list(path.relative_to(PMT.parent).with_suffix("").parts)
        if parts[-1] == "__init__":
            parts = parts[:-1]
        out[".".join(parts)] = path
    return out


def _graph() -> dict[str, set[str]]:
    mods = _modules()
    graph: dict[str, set[str]] = {m: set() for m in mods}
    for name, path in mods.items():
        package = name if path.name == "__init__.py" else name.rsplit(".", 1)[0]
        for node in ast.parse(path.read_text()).body:
            if isinstance(node, ast.If) and "TYPE_CHECKING" in ast.unparse(node.test):
                continue
            if isinstance(node, ast.ImportFrom):
                if node.level:
                    base = package.split(".")[: len(package.split(".")) - (node.level - 1)]
                    target = ".".join(base + ([node.module] if node.module else []))
                else:
                    target = node.module or ""
                subs = {f"{target}.{a.name}" for a in node.names} & set(mods)
                plain = [a for a in node.names if f"{target}.{a.name}" not in mods]
                found = subs | ({target} if plain and target in mods else set())
            elif isinstance(node, ast.Import):
                found = {a.name for a in node.names if a.name in mods}
            else:
                continue
            graph[name] |= found - {name}
    return graph


def _reaches(graph: dict[str, set[str]], start: str) -> set[str]:
    seen: set[str] = set()
    todo = [start]
    while todo:
        for nxt in graph[todo.pop()]:
            if nxt not in seen:
                seen.add(nxt)
                todo.append(nxt)
    return seen


def test_no_import_cycles():
    graph = _graph()
    cycles = sorted(m for m in graph if m in _reaches(graph, m))
    assert not cycles, f"modules on an import cycle: {cycles}"


def test_the_kernels_import_nothing_of_pmt():
    graph = _graph()
    for name in graph:
        if name.startswith("pmt._kernels"):
            outside = {m for m in graph[name] if not m.startswith("pmt._kernels")}
            assert not outside, f"{name} imports {outside}"


def test_the_jobs_know_nothing_of_the_command_line_or_of_plots():
    graph = _graph()
    for name in graph:
        if name.startswith(("pmt.cli", "pmt.report")):
            continue
        reached = _reaches(graph, name)
        assert not {m for m in reached if m.startswith("pmt.cli")}, name
        assert "pmt.report.plots" not in reached, name


def test_no_module_is_over_about_600_lines():
    long = {
        name: n
        for name, path in _modules().items()
        if (n := len(path.read_text().splitlines())) > MAX_LINES
    }
    assert not long, f"split these modules: {long}"
