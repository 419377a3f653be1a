"""`rtlsim`: the generated network simulated cycle by cycle (cocotb + Verilator) on a build's
verification images, outputs compared bit for bit with the C simulation's, cycles measured."""
from __future__ import annotations

import contextlib
import io
import json
import math
import subprocess
import time
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from sqzfpga.atomic import atomic_path
from sqzfpga.errors import UserError
from sqzfpga import tools
from sqzfpga.rtl.rate import rate, read_timing

TIME_FACTOR = 4  # simulated-time limit: this many times the planned cycles, plus the idle window
SLOW_CYCLES_PER_S = 5000  # wall-clock limit: a tenth of the speed measured on the default network (55k cycles/s)
WALL_BASE_S = 120  # plus this for start-up (Python, cocotb, loading the ROMs)


@dataclass(frozen=True)
class Limits:
    """When a network simulation gives up: `idle_cycles` without a beat on either stream, `cycles`
    of simulated time, or `wall_s` seconds; and how long the output must stay quiet after the
    expected words (`quiet_cycles`, one frame)."""
    quiet_cycles: int
    idle_cycles: int
    cycles: int
    wall_s: float


def limits(plan: dict, layout, frames: int, stall: float = 0.0) -> Limits:
    """Limits from the plan. A frame takes at most max(planned cycles, its input beats, its output
    words), slower by 1 / (1 - stall) with stalls; its latency is at most one such frame per stage
    (a stage holds less than a frame; measured 4.2 frames through the default network's 23), so no
    beat on either stream for (stages + 1) frames is a stall, not a long latency."""
    per = max(plan["cycles_per_frame"], layout.in_beats, layout.out_words) / (1 - min(stall, 0.95))
    idle = round((len(plan["units"]) + 1) * per) + 1000
    cycles = round(TIME_FACTOR * per * frames) + idle + 10_000
    return Limits(round(per), idle, cycles, WALL_BASE_S + cycles / SLOW_CYCLES_PER_S)


def _ports_only_runner(timeout_s: float | None = None):
    from cocotb_tools.runner import Verilator

    class PortsOnly(Verilator):
        """cocotb's Verilator runner, but only the top level's ports made visible to Python:
        `--public-flat-rw` keeps every internal signal un-optimised (measured 14.5k cycles/s on
        the default network); and the simulator killed after `timeout_s` (subprocess.TimeoutExpired),
        behind the testbench's own limits, for a simulator that stops calling back."""

        def _build_command(self):
            cmds = super()._build_command()
            cmds[0] = [a for a in cmds[0] if a != "--public-flat-rw"] + ["--public-depth", "1"]
            return cmds

        def _execute_cmds(self, cmds, cwd, stdout=None):
            for cmd in cmds:
                r = subprocess.run(cmd, cwd=cwd, env=self.env, stdout=stdout,
                                   stderr=None if stdout is None else subprocess.STDOUT, timeout=timeout_s)
                if r.returncode != 0:
                    raise RuntimeError(f"Command failed with return code: {r.returncode}")
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


def run_test(module: str, top: str, rtl: Path, work: Path, env: dict, timeout_s: float, frames: int, desc: str,
             show_progress: bool) -> str | None:
    """Run the cocotb test `module` on the design compiled in `work` (extra environment `env`), with a
    progress bar over the lines the bench appends to work/progress.txt; the simulator is killed after
    `timeout_s` wall seconds, behind the bench's own limits. Returns why it did not end normally, if it
    did not (a failing cocotb test is not that: the bench writes its own verdict)."""
    killed = []

    def simulate():
        runner = _ports_only_runner(timeout_s=timeout_s)
        with contextlib.redirect_stdout(io.StringIO()):
            try:
                runner.test(test_module=module, hdl_toplevel=top, build_dir=work, hdl_toplevel_lang="verilog",
                            test_dir=rtl, results_xml=str(work / "results.xml"), log_file=work / "sim.log")
            except SystemExit:  # the runner exits when a cocotb test fails
                pass
            except subprocess.TimeoutExpired:
                killed.append(f"the simulator did not return within {timeout_s:.0f} s (wall clock); stopped it")
            except RuntimeError as e:  # the simulator process failed
                killed.append(f"the simulator failed ({e})")
    with _environ({**tools.verilator_env(), **env}):
        _with_progress(simulate, work / "progress.txt", frames, desc, show_progress)
    return killed[0] if killed else None


def run_network(rtl: Path, work: Path, images: np.ndarray, reset_mid_frame: bool = False,
                show_progress: bool = False, stall: float = 0.0, seed: int = 0,
                batches: list[int] | None = None) -> dict:
    """Simulate `images` back to back through the compiled design, fed from the driver's packed input
    buffer as one DMA transfer (or as transfers of `batches` frames each); "outputs" is the driver's
    unpacking of the output buffer; plus cycle stamps. With `stall`, each stream stalls on that
    fraction of cycles (valid low on the input, ready low on the output). A wrong framing (TLAST,
    beat count), a stall, or a time limit (`limits`) raises UserError with the testbench's verdict."""
    from sqzfpga.driver.layout import Layout, unpack

    manifest = json.loads((rtl / "rtl.json").read_text())
    layout = Layout.from_dict(manifest["layout"])
    lim = limits(manifest["plan"], layout, len(images), stall)
    np.save(work / "images.npy", np.ascontiguousarray(images, dtype=np.uint8))
    cfg = {"images": str(work / "images.npy"), "result": str(work / "result.json"), "layout": manifest["layout"],
           "output_buffer": str(work / "output.bin"), "reset_mid_frame": reset_mid_frame, "stall": stall, "seed": seed,
           "progress": str(work / "progress.txt"), "error": str(work / "error.txt"), "batches": batches,
           "quiet_cycles": lim.quiet_cycles, "idle_cycles": lim.idle_cycles, "limit_cycles": lim.cycles,
           "wall_s": lim.wall_s}
    (work / "tb.json").write_text(json.dumps(cfg))
    for f in ("result.json", "error.txt"):
        (work / f).unlink(missing_ok=True)
    t0 = time.time()
    log = work / "sim.log"
    killed = run_test("sqzfpga.sim.tb_network", manifest["top"], rtl, work, {"SQZ_TB": str(work / "tb.json")},
                      lim.wall_s + 60, len(images), "[rtlsim] frames", show_progress)  # the bench stops at wall_s
    verdict = (work / "error.txt").read_text().strip() if (work / "error.txt").exists() else None
    verdict = verdict or killed
    if verdict is None and not (work / "result.json").exists():
        verdict = "the testbench did not finish"
    if verdict:
        raise UserError(f"RTL simulation of {rtl} ({len(images)} frames): {verdict}; see {log}")
    res = json.loads((work / "result.json").read_text())
    res["outputs"] = unpack(np.fromfile(work / "output.bin", dtype=np.uint8), len(images), layout)
    res["sim_s"] = time.time() - t0
    return res


def cycle_figures(res: dict, frames: int) -> dict:
    """Latency of frame 0 (first byte in -> last word out) and steady-state cycles per frame.

    Steady state starts once the pipeline has filled: about latency / interval frames are in flight
    when the first comes out, and until each stage has held a frame, outputs can come slower than the
    rate the design keeps (a 6x6 fuzz model: 39, 39, then 36 cycles per frame, its plan). So the
    interval is measured over the outputs after the fill; `steady` is false when the run had too few
    frames for one such interval (then the figure is the last intervals', and `frames_to_steady` says
    how many frames to simulate)."""
    p = res["period_ns"]
    t_in, t_out = res["t_in_ns"], res["t_out_ns"]
    latency = (t_out[0] - t_in[0]) / p
    if frames < 2:
        return {"cycles_per_frame": round(latency, 1), "latency_cycles": round(latency), "steady": False,
                "frames_to_steady": 3}
    fill = max(1, math.ceil(latency / ((t_out[-1] - t_out[-2]) / p)))  # frames in flight
    start = min(fill, frames - 2)
    ii = (t_out[-1] - t_out[start]) / p / (frames - 1 - start)
    return {"cycles_per_frame": round(ii, 1), "latency_cycles": round(latency), "steady": frames - 2 >= fill,
            "frames_to_steady": fill + 2}


def rtlsim(build_dir: Path, images: int, clock_mhz: float, log=print) -> dict:
    """The `rtlsim` command: run `images` of the build's verification set through the RTL; frames/s and
    latency at min(clock_mhz, the timing estimate's fmax) where rtl/timing.json exists (rtl.rate)."""
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
    speed = rate(figs["cycles_per_frame"], figs["latency_cycles"], clock_mhz, read_timing(rtl))
    samples = np.load(build_dir / "samples.npz")
    labels = samples["labels"][:n] if "labels" in samples else None  # csim.npz holds the same images, in order
    summary = {"images": n, "exact": bad == 0, "mismatching_values": bad,
               "accuracy": None if labels is None else float(np.mean(got.argmax(1) == labels)), **figs,
               **speed.to_dict(),
               "planned_cycles_per_frame": plan["cycles_per_frame"],
               "plan_error": round(figs["cycles_per_frame"] / plan["cycles_per_frame"] - 1, 4),
               "bottleneck": plan["bottleneck"], "compile_s": round(compile_s, 1), "sim_s": round(res["sim_s"], 1)}
    unsteady = "" if figs["steady"] else f"; the pipeline was still filling: simulate at least " \
        f"{figs['frames_to_steady']} images for the steady rate"
    log(f"[rtlsim] {n} images: {'exact' if bad == 0 else f'{bad} values differ from the C simulation'}; "
        f"{figs['cycles_per_frame']} cycles/frame (planned {plan['cycles_per_frame']}{unsteady}), latency "
        f"{figs['latency_cycles']} cycles; {speed.describe()}")
    return summary


def rerate(build_dir: Path) -> dict | None:
    """rtlsim.json's frames/s and latency again, at its requested clock, with the build's timing
    estimate as it is now (`synth` and `timing` write one after the simulation); None without rtlsim.json."""
    path = Path(build_dir) / "rtlsim.json"
    if not path.exists():
        return None
    res = json.loads(path.read_text())
    res.update(rate(res["cycles_per_frame"], res["latency_cycles"], res["requested_clock_mhz"],
                    read_timing(Path(build_dir) / "rtl")).to_dict())
    with atomic_path(path) as tmp:
        tmp.write_text(json.dumps(res, indent=1) + "\n")
    return res


def run_module(top: str, params: dict, rom_dir: Path, work: Path, beats_in: list[int], beats_out: list[int],
               stall: float, seed: int = 0, defines: dict | None = None,
               sources: list[Path] | None = None) -> tuple[bool, str]:
    """Build one library module with `params` (SV literals) and run tb_modules on it; (passed, log).
    `sources`: the library's by default."""
    from sqzfpga.rtl.generate import library_sources

    tools.require_cocotb()
    env = tools.verilator_env()
    work.mkdir(parents=True, exist_ok=True)
    cfg = {"in": [f"{b:x}" for b in beats_in], "out": [f"{b:x}" for b in beats_out], "stall": stall, "seed": seed,
           "result": str(work / "result.json")}
    (work / "tb.json").write_text(json.dumps(cfg))
    with _environ({**env, "SQZ_TB": str(work / "tb.json")}):
        runner = _ports_only_runner(timeout_s=900)  # behind tb_modules' own 600 s wall-clock limit
        with contextlib.redirect_stdout(io.StringIO()):
            runner.build(sources=sources or library_sources(), hdl_toplevel=top, build_dir=work, parameters=params,
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
