"""`rtlsim`: the generated network simulated cycle by cycle (cocotb + Verilator) on a build's
verification images, outputs compared bit for bit with the C simulation's, cycles measured."""
from __future__ import annotations

import contextlib
import io
import json
import time
from pathlib import Path

import numpy as np

from sqzfpga.errors import UserError
from sqzfpga.sim import tools

CLOCK_MHZ = 100.0


def _ports_only_runner():
    from cocotb_tools.runner import Verilator

    class PortsOnly(Verilator):
        """cocotb's Verilator runner, but only the top level's ports made visible to Python:
        `--public-flat-rw` keeps every internal signal un-optimised (measured 14.5k cycles/s on
        the default network)."""

        def _build_command(self):
            cmds = super()._build_command()
            cmds[0] = [a for a in cmds[0] if a != "--public-flat-rw"] + ["--public-depth", "1"]
            return cmds
    return PortsOnly()


def compile_design(rtl: Path, work: Path) -> float:
    """Verilate the design in `rtl` into `work`; returns seconds taken. Only the top's ports are
    visible to cocotb."""
    tools.require_cocotb()
    env = tools.verilator_env()

    manifest = json.loads((rtl / "rtl.json").read_text())
    t0 = time.time()
    with _environ(env):
        runner = _ports_only_runner()
        out = io.StringIO()
        try:
            with contextlib.redirect_stdout(out):
                runner.build(sources=[rtl / s for s in manifest["sources"]], hdl_toplevel=manifest["top"],
                             build_dir=work,
                             build_args=["-Wno-fatal", "-Wno-lint", "-Wno-style", "--x-assign", "fast",
                                         "--x-initial", "fast", "-O3"],
                             log_file=work / "build.log")
        except SystemExit as e:
            raise UserError(f"Verilator build of {rtl} failed ({e}); see {work / 'build.log'}") from None
    return time.time() - t0


@contextlib.contextmanager
def _environ(env: dict):
    import os
    old = dict(os.environ)
    os.environ.clear()
    os.environ.update(env)
    try:
        yield
    finally:
        os.environ.clear()
        os.environ.update(old)


def _with_progress(fn, progress: Path, total: int, desc: str, show: bool):
    """Run fn() in a thread while a progress bar follows the lines the simulation appends to `progress`."""
    import threading

    from tqdm import tqdm

    progress.write_text("")
    err = []
    t = threading.Thread(target=lambda: _catch(fn, err), daemon=True)
    t.start()
    with tqdm(total=total, desc=desc, unit="frame", disable=not show, leave=False) as bar:
        while t.is_alive():
            t.join(0.5)
            bar.update(progress.read_text().count("\n") - bar.n)
    if err:
        raise err[0]


def _catch(fn, err):
    try:
        fn()
    except BaseException as e:  # re-raised in the caller's thread
        err.append(e)


def run_network(rtl: Path, work: Path, images: np.ndarray, reset_mid_frame: bool = False,
                show_progress: bool = False, stall: float = 0.0, seed: int = 0) -> dict:
    """Simulate `images` back to back through the compiled design, fed from the driver's packed input
    buffer; "outputs" is the driver's unpacking of the output buffer; plus cycle stamps. With `stall`,
    each stream stalls on that fraction of cycles (valid low on the input, ready low on the output)."""
    from cocotb_tools.runner import get_runner

    from sqzfpga.firmware.layout import Layout, unpack

    manifest = json.loads((rtl / "rtl.json").read_text())
    layout = Layout.from_dict(manifest["layout"])
    np.save(work / "images.npy", np.ascontiguousarray(images, dtype=np.uint8))
    cfg = {"images": str(work / "images.npy"), "result": str(work / "result.json"), "layout": manifest["layout"],
           "output_buffer": str(work / "output.bin"), "reset_mid_frame": reset_mid_frame, "stall": stall, "seed": seed,
           "progress": str(work / "progress.txt")}
    (work / "tb.json").write_text(json.dumps(cfg))
    (work / "result.json").unlink(missing_ok=True)
    t0 = time.time()

    def simulate():
        runner = get_runner("verilator")
        with contextlib.redirect_stdout(io.StringIO()):
            try:  # the runner exits when a cocotb test fails (mismatches are reported from result.json)
                runner.test(test_module="sqzfpga.sim.tb_network", hdl_toplevel=manifest["top"], build_dir=work,
                            hdl_toplevel_lang="verilog", test_dir=rtl, results_xml=str(work / "results.xml"),
                            log_file=work / "sim.log")
            except SystemExit:
                pass
    with _environ({**tools.verilator_env(), "SQZ_TB": str(work / "tb.json")}):
        _with_progress(simulate, work / "progress.txt", len(images), "[rtlsim] frames", show_progress)
    if not (work / "result.json").exists():
        raise UserError(f"RTL simulation did not finish; see {work / 'sim.log'}")
    res = json.loads((work / "result.json").read_text())
    res["outputs"] = unpack(np.fromfile(work / "output.bin", dtype=np.uint8), len(images), layout)
    res["sim_s"] = time.time() - t0
    return res


def cycle_figures(res: dict, frames: int) -> dict:
    """Latency of frame 0 (first byte in -> last word out) and steady-state cycles per frame."""
    p = res["period_ns"]
    t_in, t_out = res["t_in_ns"], res["t_out_ns"]
    latency = (t_out[0] - t_in[0]) / p
    if frames >= 3:
        ii = (t_out[-1] - t_out[1]) / p / (frames - 2)
    elif frames == 2:
        ii = (t_out[1] - t_out[0]) / p
    else:
        ii = latency
    return {"cycles_per_frame": round(ii, 1), "latency_cycles": round(latency),
            "fps_at_100mhz": round(CLOCK_MHZ * 1e6 / ii, 1)}


def rtlsim(build_dir: Path, images: int = 20, log=print) -> dict:
    """The `rtlsim` command: run `images` of the build's verification set through the RTL."""
    build_dir = Path(build_dir).resolve()
    rtl = build_dir / "rtl"
    if not (rtl / "rtl.json").exists():
        raise UserError(f"build folder {build_dir}: has no generated RTL (rtl/rtl.json); run `python -m sqzfpga "
                        f"build --out {build_dir}` or `python -m sqzfpga rtl --build {build_dir}` first")
    if not (build_dir / "csim.npz").exists():
        raise UserError(f"build folder {build_dir}: has no C-simulation outputs (csim.npz) to compare with; "
                        "rebuild without --no-csim")
    if images < 1:
        raise UserError(f"--images {images}: expected a positive number")
    manifest = json.loads((rtl / "rtl.json").read_text())
    cs = np.load(build_dir / "csim.npz")
    n = min(images, len(cs["images"]))
    imgs, want = cs["images"][:n], cs["outputs"][:n]
    work = build_dir / "rtlsim"
    work.mkdir(exist_ok=True)
    log(f"[rtlsim] compiling {manifest['top']} with Verilator ...")
    compile_s = compile_design(rtl, work)
    log(f"[rtlsim] simulating {n} images back to back ...")
    import sys
    res = run_network(rtl, work, imgs, show_progress=sys.stderr.isatty())
    got = np.asarray(res["outputs"], dtype=np.int64)
    bad = int(np.sum(got != want.reshape(got.shape)))
    figs = cycle_figures(res, n)
    plan = manifest["plan"]
    samples = np.load(build_dir / "samples.npz")
    labels = samples["labels"][:n] if "labels" in samples else None  # csim.npz holds the same images, in order
    summary = {"images": n, "exact": bad == 0, "mismatching_values": bad,
               "accuracy": None if labels is None else float(np.mean(got.argmax(1) == labels)), **figs,
               "planned_cycles_per_frame": plan["cycles_per_frame"],
               "plan_error": round(figs["cycles_per_frame"] / plan["cycles_per_frame"] - 1, 4),
               "bottleneck": plan["bottleneck"], "compile_s": round(compile_s, 1), "sim_s": round(res["sim_s"], 1)}
    log(f"[rtlsim] {n} images: {'exact' if bad == 0 else f'{bad} values differ from the C simulation'}; "
        f"{figs['cycles_per_frame']} cycles/frame (planned {plan['cycles_per_frame']}), latency "
        f"{figs['latency_cycles']} cycles, {figs['fps_at_100mhz']} frames/s at 100 MHz")
    return summary


def run_module(top: str, params: dict, rom_dir: Path, work: Path, beats_in: list[int], beats_out: list[int],
               stall: float, seed: int = 0, defines: dict | None = None) -> tuple[bool, str]:
    """Build one library module with `params` (SV literals) and run tb_modules on it; (passed, log)."""
    from sqzfpga.rtl.generate import library_sources

    tools.require_cocotb()
    env = tools.verilator_env()
    work.mkdir(parents=True, exist_ok=True)
    cfg = {"in": [f"{b:x}" for b in beats_in], "out": [f"{b:x}" for b in beats_out], "stall": stall, "seed": seed,
           "result": str(work / "result.json")}
    (work / "tb.json").write_text(json.dumps(cfg))
    with _environ({**env, "SQZ_TB": str(work / "tb.json")}):
        runner = _ports_only_runner()
        with contextlib.redirect_stdout(io.StringIO()):
            runner.build(sources=library_sources(), hdl_toplevel=top, build_dir=work, parameters=params,
                         defines=defines or {}, build_args=["-Wno-fatal", "-Wno-lint", "-Wno-style"],
                         log_file=work / "build.log")
            try:  # the runner exits when a cocotb test fails
                runner.test(test_module="sqzfpga.sim.tb_modules", hdl_toplevel=top, build_dir=work,
                            hdl_toplevel_lang="verilog", test_dir=rom_dir, results_xml=str(work / "results.xml"),
                            log_file=work / "sim.log")
                passed = True
            except SystemExit:
                passed = False
    return passed, (work / "sim.log").read_text()
