"""Place-and-route cross-check of the timing estimator on ECP5 (issue 19 item 2).

    .venv/bin/python benchmarks/pnr_crosscheck.py --build DIR                     # every stage
    .venv/bin/python benchmarks/pnr_crosscheck.py --build DIR --stage l2_pool1 --stage l14_gap1 --json

Per stage of a build (its rtl/rtl.json): Yosys `synth_ecp5`, nextpnr-ecp5 (LFE5U-85F speed 6, out of
context, seed 1; rtl/pnr.py), and the estimator (rtl/timing.py's pass with rtl/delays_ecp5.py's table,
nextpnr's own delay database) on the same netlist. Compared: the worst register-to-register path,
estimated (logic only, and with the derived routing allowance per net) against routed (cell part,
routing part, routed nets); the ranking of the stages by each. The allowance: the smallest per net
that gives every routed path at least the routing/logic ratio nextpnr measured on it (the largest
routing delay per net over the paths); beside it the smallest allowance at which no stage's estimate
is below its routed delay. Carried over to the Xilinx estimate (the build's own
rtl/synth/NAME_netlist.json, where present): the routing per net that the measured ratio implies on
the Xilinx estimator's worst path (ratio x its logic delay / its nets), and a routed net counted in
LUT delays (ECP5 LUT4) times the Xilinx LUT delay (TILO), beside timing.ROUTE_NS.
Work files under benchmarks/out/pnr/BUILD (or --work; --reuse takes an earlier run's netlists and
reports from there). Prints one table; --json one JSON line last.
"""
from __future__ import annotations

import argparse
import json
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent


def spearman(a: list[float], b: list[float]) -> float | None:
    """Spearman's rank correlation (ties take their mean rank); None below 3 values."""
    def ranks(v):
        order = sorted(range(len(v)), key=lambda i: v[i])
        r = [0.0] * len(v)
        i = 0
        while i < len(v):
            j = i
            while j + 1 < len(v) and v[order[j + 1]] == v[order[i]]:
                j += 1
            for k in range(i, j + 1):
                r[order[k]] = (i + j) / 2
            i = j + 1
        return r
    if len(a) < 3:
        return None
    ra, rb = ranks(a), ranks(b)
    ma, mb = sum(ra) / len(ra), sum(rb) / len(rb)
    cov = sum((x - ma) * (y - mb) for x, y in zip(ra, rb))
    var = (sum((x - ma) ** 2 for x in ra) * sum((y - mb) ** 2 for y in rb)) ** 0.5
    return round(cov / var, 3) if var else None


def run_stage(rtl: Path, sources: list[str], st: dict, work: Path, timeout: int, reuse: bool) -> dict:
    """synth_ecp5 + nextpnr + the estimator (logic only) on one stage; raises UserError on failure. With
    `reuse`, a netlist and report that an earlier run left in `work` (and its times) are taken as they are."""
    from sqzfpga.rtl import delays_ecp5 as d5, pnr

    netlist, times = work / f"{st['name']}_ecp5.json", work / f"{st['name']}_times.json"
    report = netlist.with_name(netlist.stem + "_pnr.json")
    if reuse and netlist.exists() and report.exists() and times.exists():
        routed, t = pnr.routed_path(json.loads(report.read_text()), report), json.loads(times.read_text())
    else:
        t0 = time.time()
        netlist = pnr.synth_ecp5(rtl, sources, st["module"], st["params"], work, st["name"], timeout=timeout)
        t1 = time.time()
        routed = pnr.place_and_route(netlist, st["module"], timeout=timeout)
        t = {"synth_s": round(t1 - t0, 1), "pnr_s": round(time.time() - t1, 1)}
        times.write_text(json.dumps(t) + "\n")
    top = pnr.stage_netlist(netlist, st["module"])
    cells: dict[str, int] = {}
    for c in top["cells"].values():
        cells[c["type"]] = cells.get(c["type"], 0) + 1
    est0 = pnr.estimated_path(top, d5.DELAYS_ECP5_6, 0.0, d5.ecp5_cell_arcs, d5.DEDICATED_ECP5)
    return {"top": top, "cells": {k: v for k, v in sorted(cells.items()) if not k.startswith("$")},
            "routed": routed, "est_logic": est0, **t}


def _estimate(s: dict, r: float):
    from sqzfpga.rtl import delays_ecp5 as d5, pnr

    return pnr.estimated_path(s["top"], d5.DELAYS_ECP5_6, r, d5.ecp5_cell_arcs, d5.DEDICATED_ECP5)


def allowance(done: dict) -> float:
    """The ECP5 routing allowance per net: on each routed path the estimator's logic delay is nextpnr's
    (the same table, the same cells), so an allowance that gives that path at least its measured
    routing/logic ratio is its routing delay over its routed nets; the largest over the stages."""
    return round(max(s["routed"].routing_ns / max(s["routed"].nets, 1) for s in done.values()), 3)


def covering(done: dict) -> float:
    """The smallest allowance per net (to 0.01 ns) at which no stage's estimate is below its routed delay."""
    lo, hi = 0.0, 5.0
    if any(_estimate(s, hi).ns < s["routed"].ns for s in done.values()):
        return float("inf")
    while hi - lo > 0.005:
        mid = (lo + hi) / 2
        lo, hi = (lo, mid) if all(_estimate(s, mid).ns >= s["routed"].ns for s in done.values()) else (mid, hi)
    return round(hi, 2)


def xilinx_implied(rtl: Path, name: str, module: str, ratio: float) -> dict | None:
    """The Xilinx estimator's worst path on the build's synth_xilinx netlist at timing.ROUTE_NS, and the
    routing per net that the ECP5 routing/logic ratio implies on it."""
    from sqzfpga.rtl import pnr, timing

    path = rtl / "synth" / f"{name}_netlist.json"
    if not path.exists():
        return None
    top = pnr.stage_netlist(path, module)
    e = pnr.estimated_path(top, timing.DELAYS_Z7_1, timing.ROUTE_NS, None, None)
    if e is None or not e.nets:
        return None
    return {"ns": e.ns, "logic_ns": e.logic_ns, "nets": e.nets,
            "implied_route_ns": round(ratio * e.logic_ns / e.nets, 3)}


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--build", required=True, type=Path, help="a build folder (its rtl/rtl.json and sources)")
    ap.add_argument("--stage", action="append", help="only these stages (repeatable; names as in rtl/rtl.json)")
    ap.add_argument("--work", type=Path, help="work folder (default benchmarks/out/pnr/BUILDNAME)")
    ap.add_argument("--timeout", type=int, default=900, help="seconds per tool run (synth_ecp5, nextpnr) per stage")
    ap.add_argument("--reuse", action="store_true", help="take the netlists and nextpnr reports an earlier run left "
                    "in the work folder (the estimator runs again)")
    ap.add_argument("--json", action="store_true", help="print one JSON line last")
    a = ap.parse_args()
    from sqzfpga.errors import UserError
    from sqzfpga.rtl import delays_ecp5 as d5, timing

    rtl = a.build / "rtl"
    if not (rtl / "rtl.json").exists():
        ap.error(f"--build {a.build}: no rtl/rtl.json there; give a folder written by `sqzfpga build` "
                 f"(or `sqzfpga rtl`)")
    manifest = json.loads((rtl / "rtl.json").read_text())
    stages = {s["name"]: s for s in manifest["stages"]}
    unknown = [s for s in a.stage or [] if s not in stages]
    if unknown:
        ap.error(f"--stage {unknown[0]}: not a stage of {rtl / 'rtl.json'}; expected one of {', '.join(stages)}")
    sources = [s for s in manifest["sources"] if s != f"{manifest['top']}.sv"]
    work = a.work or ROOT / "benchmarks" / "out" / "pnr" / a.build.resolve().name
    done, failed = {}, {}
    for name in a.stage or list(stages):
        print(f"[{name}] synth_ecp5 + nextpnr-ecp5 ...", flush=True)
        try:
            done[name] = run_stage(rtl.resolve(), sources, stages[name], work, a.timeout, a.reuse)
            s = done[name]
            print(f"[{name}] routed {s['routed'].ns} ns (synth {s['synth_s']} s, place and route {s['pnr_s']} s)",
                  flush=True)
        except UserError as e:
            failed[name] = str(e)
            print(f"[{name}] not compared: {e}", flush=True)
    if not done:
        print(f"error: no stage was placed and routed ({len(failed)} failed; first: {next(iter(failed.values()))})",
              file=sys.stderr)
        sys.exit(1)
    r, cover = allowance(done), covering(done)
    rows = {}
    for name, s in done.items():
        rp, e0 = s["routed"], s["est_logic"]
        er, ec = _estimate(s, r), _estimate(s, cover)
        ratio = rp.routing_ns / rp.logic_ns
        rows[name] = {"cells": s["cells"], "est_logic_ns": e0.logic_ns, "est_levels": e0.levels,
                      "est_ns": er.ns, "est_nets": er.nets, "est_levels_routed": er.levels,
                      "est_ns_covering": ec.ns,
                      "routed_ns": rp.ns, "routed_logic_ns": rp.logic_ns, "routed_routing_ns": rp.routing_ns,
                      "routed_nets": rp.nets, "routed_cells": rp.cells,
                      "routing_per_net_ns": round(rp.routing_ns / max(rp.nets, 1), 3),
                      "net_in_luts": round(rp.routing_ns / max(rp.nets, 1) / d5.DELAYS_ECP5_6["LUT4"], 2),
                      "routing_logic_ratio": round(ratio, 2), "est_over_routed": round(er.ns / rp.ns, 3),
                      "fmax_routed_mhz": rp.fmax_mhz, "synth_s": s["synth_s"], "pnr_s": s["pnr_s"],
                      "routed_path": f"{rp.start} -> {rp.end}", "est_path": f"{er.start} -> {er.end}",
                      "xilinx": xilinx_implied(rtl, name, stages[name]["module"], ratio)}
    names = list(rows)
    by = {k: sorted(names, key=lambda n: -rows[n][k]) for k in ("routed_ns", "est_ns", "est_logic_ns")}
    xil = [v["xilinx"]["implied_route_ns"] for v in rows.values() if v["xilinx"]]
    luts = sorted(v["net_in_luts"] for v in rows.values())
    per_net = [v["routing_per_net_ns"] for v in rows.values()]
    summary = {"device": "LFE5U-85F speed 6 (nextpnr-ecp5 0.11.1, out of context, seed 1)",
               "allowance_ecp5_ns": r, "covering_ecp5_ns": cover,
               "routing_per_net_ns": {"mean": round(sum(per_net) / len(per_net), 3), "max": max(per_net)},
               "routing_logic_ratio_max": max(v["routing_logic_ratio"] for v in rows.values()),
               "spearman_est_vs_routed": spearman([rows[n]["est_ns"] for n in names],
                                                  [rows[n]["routed_ns"] for n in names]),
               "spearman_logic_vs_routed": spearman([rows[n]["est_logic_ns"] for n in names],
                                                    [rows[n]["routed_ns"] for n in names]),
               "rank_routed": by["routed_ns"], "rank_est": by["est_ns"],
               "xilinx_route_ns": timing.ROUTE_NS, "xilinx_implied_route_ns": max(xil) if xil else None,
               "net_in_luts": {"min": luts[0], "median": luts[len(luts) // 2], "max": luts[-1]},
               "xilinx_route_ns_by_lut_units": [round(x * timing.DELAYS_Z7_1["TILO"], 3) for x in (luts[0], luts[-1])],
               "xilinx_route_ns_covering": round(cover / d5.DELAYS_ECP5_6["LUT4"] * timing.DELAYS_Z7_1["TILO"], 3),
               "stages": rows, "failed": failed}
    print()
    print(f"{'stage':16} {'est logic':>9} {'lv':>3} {'est@' + str(r):>9} {'nets':>4} {'est@' + str(cover):>8} | "
          f"{'routed':>7} {'logic':>6} "
          f"{'route':>6} {'nets':>4} {'r/net':>6} {'r/l':>5} | {'est/rt':>6} {'synth s':>7} {'pnr s':>6} "
          f"| {'xil logic':>9} {'nets':>4} {'implied':>7}")
    for n, v in rows.items():
        x = v["xilinx"] or {}
        print(f"{n:16} {v['est_logic_ns']:9.3f} {v['est_levels']:3d} {v['est_ns']:9.3f} {v['est_nets']:4d} "
              f"{v['est_ns_covering']:8.3f} | "
              f"{v['routed_ns']:7.3f} {v['routed_logic_ns']:6.3f} {v['routed_routing_ns']:6.3f} {v['routed_nets']:4d} "
              f"{v['routing_per_net_ns']:6.3f} {v['routing_logic_ratio']:5.2f} | {v['est_over_routed']:6.3f} "
              f"{v['synth_s']:7.1f} {v['pnr_s']:6.1f} | {x.get('logic_ns', float('nan')):9.3f} {x.get('nets', 0):4d} "
              f"{x.get('implied_route_ns', float('nan')):7.3f}")
    for n, e in failed.items():
        print(f"{n:16} not compared: {e}")
    print(f"\nrouting allowance derived on ECP5: {r} ns per net (routed per net: mean "
          f"{summary['routing_per_net_ns']['mean']}, max {summary['routing_per_net_ns']['max']} ns; routing/logic up "
          f"to {summary['routing_logic_ratio_max']}); no estimate below its routed delay from {cover} ns per net")
    print(f"ranking, routed:    {' > '.join(by['routed_ns'])}\nranking, estimated: {' > '.join(by['est_ns'])} "
          f"(Spearman {summary['spearman_est_vs_routed']}; logic only {summary['spearman_logic_vs_routed']})")
    lo, hi = summary["xilinx_route_ns_by_lut_units"]
    print(f"a routed net costs {luts[0]}-{luts[-1]} LUT delays on ECP5 (median {luts[len(luts) // 2]}): {lo}-{hi} ns "
          f"at the Xilinx TILO of {timing.DELAYS_Z7_1['TILO']} ns; the covering allowance, "
          f"{round(cover / d5.DELAYS_ECP5_6['LUT4'], 2)} LUT delays, is {summary['xilinx_route_ns_covering']} ns "
          f"there; "
          f"timing.ROUTE_NS is {timing.ROUTE_NS}")
    if xil:
        print(f"Xilinx: the measured routing/logic ratios imply up to {max(xil)} ns per net on the Xilinx estimator's "
              f"worst paths")
    if a.json:
        print(json.dumps(summary))


if __name__ == "__main__":
    sys.path.insert(0, str(ROOT))
    main()
