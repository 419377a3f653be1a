"""The package's import graph: no cycle between files, and no file imports a higher stage.

STAGES below is the one written-down order of the pipeline (lowest first). A file may import files
of its own stage or of lower stages, never of a higher one; within a stage, only cycles are
forbidden. Module-level and function-level (lazy) imports count alike: a lazy import hides a
dependency from a reader, it does not remove it. The order lives here, beside the only code that
reads it, so that the package carries no constant that nothing in it uses.

Where a module sits in a folder of another stage (sim/report.py and sim/plots.py are the report,
hls/lower.py and hls/types.py the backend-neutral frontend), the table names it by its full
module path, and the longest matching entry wins.
"""
from __future__ import annotations

import ast
import functools
from dataclasses import dataclass
from pathlib import Path

PACKAGE = Path(__file__).resolve().parents[1] / "sqzfpga"

STAGES: tuple[tuple[str, tuple[str, ...]], ...] = (
    # the host driver runs alone on the board (numpy only, relative imports), so it imports nothing else
    # of the package; the DMA byte layout in it is the contract that csim, the RTL and the simulator share
    ("driver", ("sqzfpga.driver",)),
    # errors, atomic writes, part facts, the vendor and open-source tool runners, the Jinja factory
    ("base", ("sqzfpga", "sqzfpga.errors", "sqzfpga.atomic", "sqzfpga.parts", "sqzfpga.vendor", "sqzfpga.tools",
              "sqzfpga.jinja")),
    ("model", ("sqzfpga.model",)),                                    # PyTorch model, data, QONNX export
    ("ir", ("sqzfpga.ir",)),                                          # fixed-point types, exact widths
    ("frontend", ("sqzfpga.frontend",)),                              # QONNX -> lowered graph
    # what the layer modules use of each backend: hls4ml types, the kernels' configs and cycle model, the
    # RTL unit, its cost, ROM packing and the planner (both backends take its folding)
    ("backend kit", ("sqzfpga.hls.types", "sqzfpga.hls.cycles", "sqzfpga.hls.kernel", "sqzfpga.rtl.unit",
                     "sqzfpga.rtl.cost", "sqzfpga.rtl.rom", "sqzfpga.rtl.plan")),
    ("layers", ("sqzfpga.layers",)),                                  # one module per layer type
    ("hls", ("sqzfpga.hls",)),                                        # hls4ml layers, project, fit, csim
    ("rtl", ("sqzfpga.rtl",)),                                        # SV generator, planner, cost, Yosys
    ("sim", ("sqzfpga.sim",)),                                        # cocotb/Verilator, validate
    ("report", ("sqzfpga.report",)),                                  # the build report and its figures
    ("deploy", ("sqzfpga.deploy",)),                                  # Vivado scripts, package, remote
    ("build", ("sqzfpga.build",)),                                    # the flow
    ("sweep", ("sqzfpga.sweep",)),                                    # design-space sweeps on Ray
    ("cli", ("sqzfpga.cli", "sqzfpga.__main__")),
)


@dataclass(frozen=True)
class Import:
    source: str  # importing module
    target: str  # imported module of the package
    line: int
    path: Path


def modules(root: Path, package: str) -> dict[str, Path]:
    """Every module of the package in folder `root`, by dotted name (a package is its __init__)."""
    found = {}
    for path in sorted(root.rglob("*.py")):
        parts = [package, *path.relative_to(root).with_suffix("").parts]
        if parts[-1] == "__init__":
            parts.pop()
        found[".".join(parts)] = path
    return found


@functools.cache
def imports(root: Path, package: str) -> list[Import]:
    """Every import, anywhere in a file, of a module of the package (relative imports resolved)."""
    mods = modules(root, package)
    edges = []
    for name, path in mods.items():
        is_package = path.name == "__init__.py"
        for node in ast.walk(ast.parse(path.read_text(), str(path))):
            if isinstance(node, ast.Import):
                targets = [alias.name for alias in node.names]
            elif isinstance(node, ast.ImportFrom):
                base = node.module or ""
                if node.level:
                    anchor = name.split(".")[:len(name.split(".")) - node.level + is_package]
                    base = ".".join(anchor + ([base] if base else []))
                # `from a import b` imports the module a.b when there is one, else a name of a
                targets = [f"{base}.{alias.name}" if f"{base}.{alias.name}" in mods else base for alias in node.names]
            else:
                continue
            for target in targets:
                while target and target not in mods:  # `import a.b.c` of a name inside a module
                    target = target.rpartition(".")[0]
                if target and target != name:
                    edges.append(Import(name, target, node.lineno, path))
    return edges


def stage_of(module: str, stages=STAGES) -> int | None:
    """Index of the module's stage: its longest entry in `stages` (the bare package only by itself)."""
    best, index = -1, None
    for i, (_, entries) in enumerate(stages):
        for entry in entries:
            hit = module == entry or ("." in entry and module.startswith(entry + "."))
            if hit and len(entry) > best:
                best, index = len(entry), i
    return index


def cycles(edges: list[Import]) -> list[list[str]]:
    """One cycle (a closed path of modules) per strongly connected group of files (Tarjan)."""
    graph: dict[str, set[str]] = {}
    for e in edges:
        graph.setdefault(e.source, set()).add(e.target)
        graph.setdefault(e.target, set())
    index, low, stack, on_stack, groups = {}, {}, [], set(), []

    def connect(v):
        index[v] = low[v] = len(index)
        stack.append(v)
        on_stack.add(v)
        for w in sorted(graph[v]):
            if w not in index:
                connect(w)
                low[v] = min(low[v], low[w])
            elif w in on_stack:
                low[v] = min(low[v], index[w])
        if low[v] == index[v]:
            group = set()
            while True:
                w = stack.pop()
                on_stack.discard(w)
                group.add(w)
                if w == v:
                    break
            if len(group) > 1:
                groups.append(group)

    for v in sorted(graph):
        if v not in index:
            connect(v)
    found = []
    for group in groups:
        start = min(group)
        paths, seen = [[start]], {start}
        while paths:  # breadth first: the shortest way back to `start` inside the group
            path = paths.pop(0)
            nxt = sorted(graph[path[-1]] & group)
            if start in nxt:
                found.append(path + [start])
                break
            for w in nxt:
                if w not in seen:
                    seen.add(w)
                    paths.append(path + [w])
    return sorted(found)


def upward(edges: list[Import], stages=STAGES) -> list[str]:
    """Imports from a lower stage to a higher one, as `file:line: a (stage) imports b (stage)`."""
    names = [s for s, _ in stages]
    bad = []
    for e in edges:
        src, dst = stage_of(e.source, stages), stage_of(e.target, stages)
        if src is not None and dst is not None and dst > src:
            bad.append(f"{e.path}:{e.line}: {e.source} ({names[src]}) imports {e.target} ({names[dst]})")
    return bad


def check(root: Path, package: str, stages=STAGES) -> list[str]:
    """Every problem of the package's import graph, one line each (empty: the graph is clean)."""
    edges = imports(root, package)
    problems = [f"{m}: no stage; add it to STAGES in {__file__}" for m in modules(root, package)
                if stage_of(m, stages) is None]
    problems += ["import cycle: " + " -> ".join(c) for c in cycles(edges)]
    return problems + upward(edges, stages)


def test_package_imports_follow_the_stages():
    problems = check(PACKAGE, "sqzfpga")
    assert not problems, "\n".join(problems)


def _package(root: Path, files: dict[str, str]) -> Path:
    for rel, text in files.items():
        (root / rel).parent.mkdir(parents=True, exist_ok=True)
        (root / rel).write_text(text)
    return root


def test_checker_finds_cycles_and_upward_imports(tmp_path):
    """The checker on a small package: a lazy cycle through a relative import, an upward import, a
    module with no stage; and the same package clean once they are gone."""
    stages = (("low", ("pkg.low",)), ("high", ("pkg.high", "pkg")))
    root = _package(tmp_path / "pkg", {
        "__init__.py": "",
        "low/__init__.py": "",
        "low/a.py": "def f():\n    from .b import g\n",        # lazy, relative
        "low/b.py": "import pkg.low.a\nfrom pkg.high import top\n",  # cycle back to a; upward to high
        "high/__init__.py": "",
        "high/top.py": "import numpy\nfrom .. import low\n",   # a package, two dots up
        "stray.py": "",
    })
    assert {(e.source, e.target) for e in imports(root, "pkg")} == {
        ("pkg.low.a", "pkg.low.b"), ("pkg.low.b", "pkg.low.a"), ("pkg.low.b", "pkg.high.top"),
        ("pkg.high.top", "pkg.low")}
    problems = check(root, "pkg", stages)
    assert "import cycle: pkg.low.a -> pkg.low.b -> pkg.low.a" in problems, problems
    assert any(p.endswith("b.py:2: pkg.low.b (low) imports pkg.high.top (high)") for p in problems), problems
    assert problems[0].startswith("pkg.stray: no stage") and len(problems) == 3, problems

    (root / "low" / "b.py").write_text("X = 1\n")
    (root / "stray.py").unlink()
    imports.cache_clear()
    assert check(root, "pkg", stages) == []
