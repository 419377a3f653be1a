"""`build`: the accelerator build as an ordered list of named steps (FINN style).

Each step reads and writes files in one build folder. The folder is assembled under a temporary
name beside the target and swapped in only when every step has succeeded, so a failed or
interrupted build never replaces (or imitates) a good one.
"""
from __future__ import annotations

import json
import shutil
import tempfile
import time
from pathlib import Path

from sqzfpga.errors import UserError
from sqzfpga.parts import get_part


def step_export(ctx: dict) -> None:
    from sqzfpga.model import checkpoint
    from sqzfpga.model.export import export

    model, ckpt = checkpoint.load_model(ctx["model_path"])
    ctx["accuracy"] = ckpt.get("meta", {}).get("accuracy")
    export(model, ctx["dir"] / "model.onnx")


def step_samples(ctx: dict) -> None:
    """Copy the verification images (used by the C and RTL simulations) into the build."""
    from sqzfpga.model.checkpoint import DEFAULT_CHECKPOINT, DEFAULT_SAMPLES

    if Path(ctx["model_path"]).resolve() == DEFAULT_CHECKPOINT.resolve() and DEFAULT_SAMPLES.exists():
        shutil.copy(DEFAULT_SAMPLES, ctx["dir"] / "samples.npz")


STEPS = [("export", step_export), ("samples", step_samples)]
NOT_YET = "hls (hls4ml + Fire templates), C simulation and fit check"


def build(model_path: Path, part_name: str, out: Path, log=print) -> dict:
    part = get_part(part_name)
    out = out.resolve()
    if out.exists() and not out.is_dir():
        raise UserError(f"build folder {out}: is a file; choose another --out")
    if out.is_dir() and any(out.iterdir()) and not (out / "build.json").exists():
        raise UserError(f"build folder {out}: exists and is not an sqzfpga build; choose another --out")
    try:
        out.parent.mkdir(parents=True, exist_ok=True)
        tmp = Path(tempfile.mkdtemp(prefix=f".{out.name}.partial-", dir=out.parent))
    except OSError as e:
        raise UserError(f"build folder {out}: cannot be written ({e.strerror}); choose another --out") from None
    ctx = {"model_path": Path(model_path), "part": part, "dir": tmp}
    timings = {}
    try:
        for name, step in STEPS:
            t0 = time.time()
            log(f"[build] {name} ...")
            step(ctx)
            timings[name] = round(time.time() - t0, 2)
        summary = {"model": str(model_path), "part": part.device, "out": str(out), "steps": timings,
                   "stopped_before": NOT_YET, "accuracy": ctx.get("accuracy")}
        (tmp / "build.json").write_text(json.dumps(summary, indent=2) + "\n")
        _swap_in(tmp, out)
    except BaseException:
        shutil.rmtree(tmp, ignore_errors=True)
        raise
    log(f"[build] wrote {out}")
    log(f"[build] stopped after QONNX export: the {NOT_YET} steps are not implemented yet")
    return summary


def _swap_in(tmp: Path, out: Path) -> None:
    """Replace `out` by `tmp`; if anything stops between the two renames, the old build goes back."""
    old = None
    if out.exists():
        old = out.with_name(f".{out.name}.old-{int(time.time() * 1000)}")
        out.rename(old)
    try:
        tmp.rename(out)
    except BaseException:
        if old is not None and not out.exists():
            old.rename(out)
        raise
    if old is not None:
        shutil.rmtree(old, ignore_errors=True)
