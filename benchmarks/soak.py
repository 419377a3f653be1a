"""Soak: many frames back to back through the generated RTL (cocotb + Verilator) with random
backpressure on both AXI streams, every output checked against the QONNX reference, frame by frame
and in order (a lost, duplicated or reordered frame shows up as a mismatch: consecutive frames are
checked to differ). A small SqueezeNet (small-input stem, width 0.25, 3x16x16, 4-bit weights) keeps
a frame to a few thousand cycles; images are random.

    .venv/bin/python benchmarks/soak.py [--frames 1000] [--stall 0.3] [--json]
"""
from __future__ import annotations

import argparse
import json
import sys
import time
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent))
from throughput import make_model, quiet  # noqa: E402  (the calibrated random network of the throughput runs)

ROOT = Path(__file__).resolve().parent.parent
WORK = ROOT / "benchmarks" / "out" / "soak"
CFG = dict(preset="small", over=dict(width_mult=0.25, input_size=16, num_fires=4, pool_after=(3,), num_classes=10,
                                     weight_bits=4, act_bits=8))


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--frames", type=int, default=1000)
    ap.add_argument("--stall", type=float, default=0.3, help="fraction of cycles each stream stalls (default 0.3)")
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--json", action="store_true")
    a = ap.parse_args()
    from sqzfpga.build import graph_of_model
    from sqzfpga.driver.layout import to_raw
    from sqzfpga.model import reference
    from sqzfpga.parts import get_part
    from sqzfpga.rtl.generate import generate
    from sqzfpga.rtl.plan import budget
    from sqzfpga.sim import rtlsim

    WORK.mkdir(parents=True, exist_ok=True)
    part = get_part("xc7z020")
    model_path = make_model(CFG, WORK)
    manifest = generate(quiet(graph_of_model, model_path, part), WORK / "rtl", budget(part))
    onnx_model = reference.load(model_path)
    _, c, h, w = reference.input_shape(onnx_model)
    images = np.random.default_rng(a.seed).integers(0, 256, (a.frames, c, h, w), dtype=np.uint8)
    want = to_raw(reference.run(onnx_model, images), manifest["output"]["frac"]).reshape(a.frames, -1)
    distinct = float(np.mean(np.any(want[1:] != want[:-1], axis=1)))
    print(f"[soak] {a.frames} frames of {c}x{h}x{w}, planned {manifest['plan']['cycles_per_frame']} cycles/frame; "
          f"stalls on {a.stall:.0%} of cycles on both streams", file=sys.stderr)
    compile_s = rtlsim.compile_design(WORK / "rtl", WORK / "sim")
    t0 = time.time()
    res = rtlsim.run_network(WORK / "rtl", WORK / "sim", images, stall=a.stall, seed=a.seed,
                             show_progress=sys.stderr.isatty())
    sim_s = time.time() - t0
    got = np.asarray(res["outputs"]).reshape(a.frames, -1)
    bad_frames = int(np.sum(np.any(got != want, axis=1)))
    figs = rtlsim.cycle_figures(res, a.frames)
    out = {"frames": a.frames, "stall": a.stall, "mismatching_frames": bad_frames,
           "mismatching_values": int(np.sum(got != want)), "frames_differing_from_previous": round(distinct, 4),
           "cycles_per_frame_with_stalls": figs["cycles_per_frame"],
           "planned_cycles_per_frame": manifest["plan"]["cycles_per_frame"], "compile_s": round(compile_s, 1),
           "sim_s": round(sim_s, 1), "frames_per_sim_s": round(a.frames / sim_s, 1)}
    print(f"[soak] {a.frames} frames, {bad_frames} mismatching (every frame checked in order; "
          f"{distinct:.1%} of frames differ from the one before); {figs['cycles_per_frame']} cycles/frame with "
          f"stalls (planned {out['planned_cycles_per_frame']} without); simulation {sim_s:.0f} s", file=sys.stderr)
    if a.json:
        print(json.dumps(out))
    sys.exit(0 if bad_frames == 0 else 1)


if __name__ == "__main__":
    main()
