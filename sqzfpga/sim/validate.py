"""`validate --on rtl`: the deployment package run as on the board, with the board simulated: its driver
(unchanged) over the `pynq` stand-in (pynq_rtl) and the AXI DMA model (axidma) against the generated
RTL in Verilator (tb_dma), one `Accelerator.run` per batch, every frame compared with the C simulation's
output in the package (deploy/samples.npz). Time limits as rtlsim's (`rtlsim.limits`): the testbench
stops itself; the simulator process is killed behind it."""
from __future__ import annotations

import json
import time
from pathlib import Path

import numpy as np

from sqzfpga.errors import UserError
from sqzfpga.driver.driver import TIMEOUT_ENV
from sqzfpga.driver.layout import Layout
from sqzfpga.sim import rtlsim
from sqzfpga.sim.pynq_rtl import dma_instance

SIM_FRAME_TIMEOUT_S = 10.0  # the driver's DMA deadline per frame in simulation (wall seconds; Verilator is slow)


def parse_batches(text: str) -> list[int]:
    try:
        sizes = [int(x) for x in text.split(",")]
    except ValueError:
        sizes = []
    if not sizes or min(sizes) < 1:
        raise UserError(f"--batches {text}: expected positive batch sizes separated by commas, e.g. 1,7,64")
    return sizes


def validate_rtl(build_dir: Path, batches: list[int], wall_s: float | None = None, log=print,
                 show_progress: bool = False, script_images: int = 0) -> dict:
    """Run `batches` through the simulated board; then, with `script_images`, the package's validate.py
    (unchanged, `--images N --json`) on the same simulated board."""
    build_dir = Path(build_dir).resolve()
    rtl, dep = build_dir / "rtl", build_dir / "deploy"
    bd = build_dir / "vivado" / "block_design.tcl"
    summary = build_dir / "build.json"
    error = json.loads(summary.read_text()).get("rtl_error") if summary.exists() else None
    if error and not (rtl / "rtl.json").exists():  # an --accel hls build that went on without the RTL
        raise UserError(f"build folder {build_dir}: has no rtl/ (the RTL backend failed: {error}); "
                        f"`validate --on rtl` simulates the RTL: once that is fixed, run `python -m sqzfpga rtl "
                        f"--build {build_dir}`")
    for need, how in ((rtl / "rtl.json", "an RTL build (`--accel rtl`)"),
                      (dep / "accel.json", "a deployment package (build with `--board`)"), (bd, "a block design")):
        if not need.exists():
            raise UserError(f"build folder {build_dir}: has no {need.relative_to(build_dir)}; `validate --on rtl` "
                            f"needs {how}: run `python -m sqzfpga build --board pynq-z2 --out {build_dir}`")
    meta = json.loads((dep / "accel.json").read_text())
    manifest = json.loads((rtl / "rtl.json").read_text())
    if Layout.from_dict(meta["layout"]) != Layout.from_dict(manifest["layout"]):  # e.g. `rtl --stream-bits` since
        bits = [Layout.from_dict(m["layout"]).stream_bits for m in (meta, manifest)]
        raise UserError(f"build folder {build_dir}: the deployment package's byte layout (deploy/accel.json, "
                        f"{bits[0]}-bit input stream) is not the RTL's (rtl/rtl.json, {bits[1]}-bit): the package "
                        f"is older than the RTL; run `python -m sqzfpga build --out {build_dir} --start-step project` "
                        "(with the build's options) to write it again")
    samples = np.load(dep / "samples.npz")
    frames = sum(batches)
    if script_images < 0 or script_images > len(samples["images"]):
        raise UserError(f"--script-images {script_images}: expected 0 to {len(samples['images'])}")
    if frames > len(samples["images"]):
        raise UserError(f"--batches {','.join(map(str, batches))}: {frames} frames, but the package has "
                        f"{len(samples['images'])} sample images")
    dma_name, length_bits = dma_instance(bd)
    plan = manifest["plan"]["cycles_per_frame"]
    lim = rtlsim.limits(manifest["plan"], Layout.from_dict(manifest["layout"]), frames + script_images)
    wall_s = wall_s or lim.wall_s
    work = build_dir / "validate_rtl"
    work.mkdir(exist_ok=True)
    images, expected = samples["images"][:frames], samples["expected"][:frames]
    np.save(work / "images.npy", np.ascontiguousarray(images, dtype=np.uint8))
    cfg = {"deploy": str(dep), "bitstream": meta["bitstream"], "dma_name": dma_name, "length_bits": length_bits,
           "images": str(work / "images.npy"), "batches": batches, "out_bytes": 4 * meta["layout"]["out_words"],
           "script_images": script_images, "idle_cycles": lim.idle_cycles,
           "max_cycles": lim.cycles + (len(batches) + 1) * lim.idle_cycles,  # each run fills the pipeline anew
           "wall_s": wall_s, "result": str(work / "result.json"), "outputs": str(work / "outputs.npy"),
           "progress": str(work / "progress.txt")}
    (work / "tb.json").write_text(json.dumps(cfg))
    for f in ("result.json", "outputs.npy"):
        (work / f).unlink(missing_ok=True)
    log(f"[validate] compiling {manifest['top']} with Verilator ...")
    rtlsim.compile_design(rtl, work)
    log(f"[validate] the package's driver over the AXI DMA model: batches {','.join(map(str, batches))} "
        f"({frames} frames) ...")
    t0 = time.time()
    killed = _simulate(work, manifest["top"], rtl, frames, wall_s + 60, show_progress)
    wall = time.time() - t0
    if not (work / "result.json").exists():
        raise UserError(f"validate --on rtl: {killed or 'the simulation ended without a result'}; see "
                        f"{work / 'sim.log'}")
    res = json.loads((work / "result.json").read_text())
    if "error" in res:
        raise UserError(f"validate --on rtl of {build_dir}: {res['error']} (after {res.get('cycles', 0)} "
                        f"simulated cycles; log {work / 'sim.log'})")
    got = np.load(work / "outputs.npy")
    bad = int(np.sum(got != expected.reshape(got.shape)))
    per = _cycles_per_frame(res)
    return {"on": "rtl", "exact": bad == 0, "mismatching_values": bad, "frames": frames, "batches": batches,
            "transfers": res["transfers"], "cycles": res["cycles"],
            "batch_cycles": [b["cycles"] for b in res["batches"]], "cycles_per_frame": per,
            "planned_cycles_per_frame": plan, "validate_py": res.get("validate_py"), "wall_s": round(wall, 1)}


def _cycles_per_frame(res: dict) -> float | None:
    """Steady-state cycles between frames' last output words, in the largest batch (3 frames or more)."""
    b = max(res["batches"], key=lambda b: b["frames"])
    s = b["stamps_ns"]
    if len(s) < 3:
        return None
    return round((s[-1] - s[1]) / res["period_ns"] / (len(s) - 2), 1)


def _simulate(work: Path, top: str, rtl: Path, frames: int, timeout_s: float, show_progress: bool) -> str | None:
    """Run tb_dma on the design compiled in `work`; the simulator is killed after `timeout_s` seconds.
    Returns why it did not finish normally, if it did not."""
    env = {"SQZ_DMA": str(work / "tb.json"), TIMEOUT_ENV: str(SIM_FRAME_TIMEOUT_S)}
    return rtlsim.run_test("sqzfpga.sim.tb_dma", top, rtl, work, env, timeout_s, frames, "[validate] frames",
                           show_progress)
