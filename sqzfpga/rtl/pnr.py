"""Place and route of one stage on ECP5 (Yosys `synth_ecp5`, then nextpnr-ecp5), to check the timing
estimator against routed delays (issue 19 item 2; `benchmarks/pnr_crosscheck.py`).

There is no open place-and-route for Xilinx parts here, so the check runs on the family nextpnr covers:
the same netlist goes to nextpnr (LFE5U-85F, speed grade 6, out of context: a stage's ports are internal
nets of the design, not package pins, and a fire has more of them than the package has pins) and to
the estimator with the ECP5 table of rtl/delays_ecp5.py. nextpnr's report (`--report`) gives the routed
critical path segment by segment: clock-to-out, cell (logic), routing and setup delays.
"""
from __future__ import annotations

import json
import os
import subprocess
from dataclasses import dataclass
from pathlib import Path

from sqzfpga import tools
from sqzfpga.errors import UserError
from sqzfpga.rtl.synth import yosys_literal
from sqzfpga.rtl.timing import build_graph, longest, netlist_module

DEVICE = ("--85k", "--speed", "6", "--package", "CABGA381")


@dataclass(frozen=True)
class RoutedPath:
    """nextpnr's worst register-to-register path: total, cell part (clock-to-out, logic, setup), routing
    part, routed nets (segments with a routing delay above 0) and the achieved clock."""
    ns: float
    logic_ns: float
    routing_ns: float
    nets: int
    cells: int
    fmax_mhz: float
    start: str
    end: str


@dataclass(frozen=True)
class EstimatedPath:
    """The estimator's worst register-to-register path with its logic and routing parts."""
    ns: float
    logic_ns: float
    nets: int
    levels: int
    start: str
    end: str


def _run(cmd: list[str], cwd: Path, timeout: int, what: str, log: Path) -> None:
    try:
        r = subprocess.run(cmd, cwd=cwd, capture_output=True, text=True, timeout=timeout)
    except subprocess.TimeoutExpired:
        raise UserError(f"{what}: took over {timeout} s (raise the time limit with --timeout); see {log}") from None
    if r.returncode != 0:
        text = (r.stderr + r.stdout + (log.read_text(errors="replace") if log.exists() else ""))
        err = next((l for l in text.splitlines() if "ERROR" in l), text.strip()[-300:])
        raise UserError(f"{what}: failed: {err.strip()}; see {log}")


def synth_ecp5(rtl: Path, sources: list[str], module: str, params: dict, out: Path, tag: str,
               timeout: int = 1800) -> Path:
    """`synth_ecp5` on one stage in `rtl` (where the ROM files are); the flattened netlist OUT/TAG_ecp5.json.
    Paths reach the tools relative to their working folder: YoWASP maps /tmp to a private folder."""
    out.mkdir(parents=True, exist_ok=True)
    rel = Path(os.path.relpath(out.resolve(), rtl.resolve()))
    netlist, log, script = (rel / f"{tag}_ecp5{ext}" for ext in (".json", ".log", ".ys"))
    sets = " ".join(f"-set {k} {yosys_literal(v)}" for k, v in params.items())
    chparam = [f"chparam {sets} {module}"] if params else []
    (rtl / script).write_text("\n".join([f"read_verilog -sv {' '.join(sources)}", *chparam, f"synth_ecp5 -top {module}",
                                         "flatten", f"write_json {netlist}"]) + "\n")
    _run([*tools.yosys_command(), "-q", "-l", str(log), str(script)], rtl, timeout, f"synth_ecp5 of {tag}",
         out / log.name)
    return out / netlist.name


def place_and_route(netlist: Path, top: str, freq_mhz: float = 100.0, seed: int = 1, timeout: int = 1800) -> RoutedPath:
    """nextpnr-ecp5 on a `synth_ecp5` netlist (fixed seed; timing may fail, the path is the point); the
    report beside the netlist (NAME_pnr.json, NAME_pnr.log)."""
    report, log = f"{netlist.stem}_pnr.json", f"{netlist.stem}_pnr.log"
    (netlist.parent / report).unlink(missing_ok=True)
    _run([*tools.nextpnr_command(), *DEVICE, "--json", netlist.name, "--top", top, "--freq", str(freq_mhz),
          "--out-of-context", "--seed", str(seed), "--timing-allow-fail", "--report", report, "-l", log, "-q"],
         netlist.parent, timeout, f"nextpnr-ecp5 on {netlist.name}", netlist.parent / log)
    return routed_path(json.loads((netlist.parent / report).read_text()), netlist.parent / report)


def routed_path(report: dict, where: Path) -> RoutedPath:
    """The worst clock-to-clock path of a nextpnr `--report` JSON, split into cell and routing delay."""
    paths = [p for p in report.get("critical_paths", []) if p.get("from", "").startswith("posedge")
             and p.get("to", "").startswith("posedge")]
    if not paths:
        raise UserError(f"place and route: no register-to-register path in {where} (a design without clocked "
                        f"registers has nothing to compare)")
    segs = max(paths, key=lambda p: sum(s["delay"] for s in p["path"]))["path"]
    route = [s["delay"] for s in segs if s["type"] == "routing"]
    logic = [s["delay"] for s in segs if s["type"] != "routing"]
    clk = next(iter(report.get("fmax", {}).values()), {})
    return RoutedPath(round(sum(route) + sum(logic), 3), round(sum(logic), 3), round(sum(route), 3),
                      sum(1 for d in route if d > 0), sum(1 for s in segs if s["type"] == "logic" and s["delay"] > 0),
                      round(clk.get("achieved", 0.0), 1), segs[0]["from"]["cell"], segs[-1]["to"]["cell"])


def estimated_path(top: dict, delays: dict, route_ns: float, arcs_of, dedicated) -> EstimatedPath | None:
    """The estimator's worst register-to-register path (as timing.analyse finds it) with the routing
    allowance it carries: the graph is built twice, with `route_ns` and with none, and the path's arcs
    are read in both (build_graph lists a netlist's arcs in the same order whatever the allowance)."""
    g, g0 = (build_graph(top, delays, r, arcs_of, dedicated) for r in (route_ns, 0.0))
    arr = longest(g, "reg")
    ends = [(arr[n][0] + t, i) for i, (n, t, _, kind) in enumerate(g.ends) if kind == "reg" and n in arr]
    if not ends:
        return None
    ns, i = max(ends)
    net, setup, end, _ = g.ends[i]
    logic, nets = g0.ends[i][1], int(setup > g0.ends[i][1])
    while arr[net][3] is not None:
        prev, via = arr[net][3]
        k = next(k for k, (dst, t, _, v) in enumerate(g.arcs[prev]) if dst == net and v == via
                 and abs(arr[prev][0] + t - arr[net][0]) < 1e-9)
        logic += g0.arcs[prev][k][1]
        nets += g.arcs[prev][k][1] > g0.arcs[prev][k][1]
        net = prev
    logic += arr[net][0]  # the start's clock-to-out
    return EstimatedPath(round(ns, 3), round(logic, 3), nets, arr[g.ends[i][0]][1], arr[g.ends[i][0]][2], end)


def stage_netlist(netlist: Path, module: str) -> dict:
    return netlist_module(json.loads(netlist.read_text()), module)

