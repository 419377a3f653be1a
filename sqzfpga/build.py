"""`build`: the accelerator build as an ordered list of named steps (FINN style).

Each step reads and writes files in one build folder. The folder is assembled under a temporary
name beside the target and swapped in only when every step has succeeded, so a failed or
interrupted build never replaces (or imitates) a good one.
"""
from __future__ import annotations

import json
import shlex
import shutil
import tempfile
import time
from pathlib import Path

from sqzfpga.atomic import swap_in
from sqzfpga.errors import UserError
from sqzfpga.vendor import ToolFailed
from sqzfpga.parts import get_part


def step_export(ctx: dict) -> None:
    """Checkpoint -> QONNX (a given .onnx is checked and copied)."""
    from sqzfpga.model import reference

    path = ctx["model_path"]
    if path.suffix == ".onnx":
        reference.load(path)
        shutil.copy(path, ctx["dir"] / "model.onnx")
        return
    from sqzfpga.model import checkpoint
    from sqzfpga.model.export import export

    model, ckpt = checkpoint.load_model(path)
    ctx["torch_model"], ctx["meta"] = model, ckpt.get("meta", {})
    if not model.quantized:
        raise UserError(f"checkpoint {path}: is a float model; quantize it first (`python -m sqzfpga train "
                        "--init CKPT --quantize ...`)")
    export(model, ctx["dir"] / "model.onnx")


def step_samples(ctx: dict) -> None:
    """Verification images (used by the C and RTL simulations): shipped samples, --data, or random."""
    import numpy as np

    from sqzfpga.model import reference
    from sqzfpga.model.checkpoint import DEFAULT_CHECKPOINT, DEFAULT_SAMPLES

    onnx_model = ctx["onnx"]
    _, c, h, w = reference.input_shape(onnx_model)
    n = ctx["images"]
    if ctx.get("data"):
        from sqzfpga.model import data

        ds = data.load(ctx["data"], "test", c, h).subset(n)
        images, labels, source = ds.images, ds.labels, ds.source
    elif ctx["model_path"].resolve() == DEFAULT_CHECKPOINT.resolve() and DEFAULT_SAMPLES.exists():
        d = np.load(DEFAULT_SAMPLES)
        images, labels, source = d["images"][:n], d["labels"][:n], "shipped samples (Fashion-MNIST t10k)"
    else:
        images = np.random.default_rng(0).integers(0, 256, (n, c, h, w), dtype=np.uint8)
        labels, source = None, "random images (no labels: pass --data for accuracy)"
    ctx["images_np"], ctx["labels"], ctx["images_source"] = images, labels, source
    ctx["expected"] = reference.run(onnx_model, images)  # golden outputs, for the C simulation and testbench
    np.savez_compressed(ctx["dir"] / "samples.npz", images=images,
                        **({"labels": labels} if labels is not None else {}))


def step_lower(ctx: dict) -> None:
    """QONNX -> canonical streaming graph (Fire modules fused; unsupported ops refused here)."""
    import onnx

    from sqzfpga.layers import lower
    from sqzfpga.model import reference

    ctx["onnx"] = reference.load(ctx["dir"] / "model.onnx")
    canon, golden, low = lower(ctx["onnx"])
    ctx.update(canon=canon, golden=golden, in_q=low.input.q)
    onnx.save(canon, str(ctx["dir"] / "canonical.onnx"))


def step_hls(ctx: dict) -> None:
    """hls4ml ModelGraph with our layers; folding, FIFO depths, fit check; then the project is written."""
    from sqzfpga.hls import fit
    from sqzfpga.hls.convert import convert_folded

    hm = convert_folded(ctx["canon"], ctx["in_q"], ctx["dir"] / "hls", ctx["part"].device, ctx["backend"],
                        clock_period=round(1000 / ctx["clock_mhz"], 3))  # the HLS clock is the build's clock
    rows = fit.estimate(hm)
    summary = fit.check(rows, ctx["part"])
    ctx.update(hm=hm, rows=rows, fit=summary)
    fit.refuse(rows, summary, ctx["part"])
    hm.write()


def step_rtl(ctx: dict) -> None:
    """SystemVerilog dataflow from the same ModelGraph (folded by the planner for the part), linted."""
    from sqzfpga.rtl import generate

    ctx["rtl"] = generate.write(ctx["hm"], ctx["dir"] / "rtl", ctx["part"], ctx.get("max_cycles"))


def step_csim(ctx: dict) -> None:
    import numpy as np

    from sqzfpga.hls.csim import simulate

    res, y = simulate(ctx["hm"], ctx["onnx"], ctx["golden"], ctx["images_np"], ctx["labels"], ctx["expected"],
                      log=ctx["log"])
    if "torch_model" in ctx and ctx["labels"] is not None:
        from sqzfpga.model.evaluate import predict

        res["torch_accuracy"] = float((predict(ctx["torch_model"], ctx["images_np"]).argmax(1) == ctx["labels"]).mean())
    ctx["csim"], ctx["csim_out"] = res, y
    from sqzfpga.driver.layout import to_raw

    frac = int(list(ctx["hm"].get_layers())[-1].get_attr("out_q")[1])
    np.savez_compressed(ctx["dir"] / "csim.npz", images=ctx["images_np"], outputs=to_raw(y, frac))
    if not res["exact"]:
        bad = {k: v for k, v in res["layer_mismatches"].items() if v}
        raise UserError(f"C simulation differs from the QONNX reference ({res['mismatching_values']} output values;"
                        f" layers {bad or 'exact on the traced images'}); this is a bug in sqzfpga, please report "
                        "it with the model file")


def step_project(ctx: dict) -> None:
    """Testbench + vectors and hls4ml's build options; where Vitis HLS (or, for the Vivado backend,
    Vivado HLS) is on PATH, hls4ml's build_prj.tcl run as hls4ml runs it: C simulation, synthesis, IP export."""
    import shutil

    from sqzfpga import vendor
    from sqzfpga.hls import project

    prj = ctx["dir"] / "hls"
    project.write_testbench(prj, ctx["images_np"][:50], ctx["expected"][:50], ctx["golden"])
    from sqzfpga.driver.layout import Layout

    project.write_axis_top(prj, Layout.from_dict(ctx["rtl"]["layout"]), ctx["rtl"]["input"]["bits"])
    argv = project.write_build_options(prj, ctx["backend"])
    if shutil.which(argv[0]):
        path = vendor.run(argv, prj, vendor.HLS_TIMEOUT_S, produces=(project.EXPORTED_IP,), log=ctx["log"])
        next_steps = (f"C simulation, synthesis and IP export ran with {argv[0]} (IP in hls/"
                      f"{Path(project.EXPORTED_IP).parent}, log hls/{path.relative_to(prj)}).")
    else:
        cmd = f"cd {shlex.quote(str(ctx['out'] / 'hls'))} && {shlex.join(argv)}"
        older = " (Vitis before 2023.2: `vitis_hls -f build_prj.tcl`)" if argv[0] == "vitis-run" else ""
        opts = "build_opt.tcl" if ctx["backend"] == "Vitis" else "the argument"
        tools = "vitis-run or vitis_hls" if ctx["backend"] == "Vitis" else argv[0]
        next_steps = (f"No {tools} on PATH: the build stopped after C simulation. Where the tool is installed run "
                      f"`{cmd}`{older}; {opts} asks hls4ml's build_prj.tcl for C simulation, synthesis and IP "
                      "export.")
    ctx["next_steps"] = [next_steps]


def step_deploy(ctx: dict) -> None:
    """With --board: Vivado scripts (checked with tclsh), the deployment folder and its archive; with
    --bitstream, the Vivado run when the tools are here."""
    from sqzfpga.deploy import package, scripts

    meta = package.write(ctx["dir"], ctx["board"], ctx["accel"], ctx["rtl"], ctx["clock_mhz"], log=ctx["log"])
    if ctx["bitstream"] and all(shutil.which(argv[0]) for _, argv in meta["tools"]):
        package.run_vivado(ctx["dir"], meta, log=ctx["log"])
        ctx["next_steps"].append(f"Bitstream written (deploy/{meta['bitstream']}); run it on the board with "
                                 f"`python -m sqzfpga deploy --build {ctx['out']} --host HOST`.")
        return
    missing = ", ".join(sorted({argv[0] for _, argv in meta["tools"] if not shutil.which(argv[0])}))
    cmds = scripts.commands(ctx["out"], meta["tools"])
    ctx["vivado_missing"] = (f"--bitstream: {missing} not on PATH; the build in {ctx['out']} is complete up to the "
                             f"bitstream: run {cmds} where Vivado is installed") if ctx["bitstream"] else None
    ctx["next_steps"].append(f"The bitstream step needs Vivado ({missing} not on PATH here): on a machine with "
                             f"it run `{cmds}`; then `python -m sqzfpga deploy --build {ctx['out']} --host HOST` "
                             "copies deploy/ to the board and runs validate.py there (or `--csim` to try the package "
                             "on the C-simulation stand-in first).")


def step_report(ctx: dict) -> None:
    """report.json: what the report needs from the in-memory graph (per-layer rows, weight and
    activation ranges) and the command the build ran with; rendered once build.json is written."""
    from sqzfpga.report import page as report

    acts = report.activation_ranges(ctx["onnx"], ctx["golden"], ctx["images_np"])
    layers = report.layer_facts(ctx["hm"], ctx["rows"], acts)
    meta = ctx.get("meta", {})
    facts = {"command": ctx["command"], "clock_mhz": ctx["clock_mhz"], "labelled": ctx["labels"] is not None,
             "fit": ctx["fit"], "next_steps": ctx["next_steps"], "layers": layers,
             "model": {"file": str(ctx["model_path"]), "input_shape": list(ctx["images_np"].shape[1:]),
                       "classes": int(ctx["expected"].shape[-1]), "parameters": sum(l["parameters"] for l in layers),
                       "weight_bits": sorted({b for l in layers for b in l["weight_widths"]}),
                       "act_bits": sorted({l["act_width"] for l in layers}),
                       "float_accuracy": meta.get("float_accuracy"), "accuracy": meta.get("accuracy")}}
    (ctx["dir"] / report.FACTS).write_text(json.dumps(facts, indent=1) + "\n")


def graph_of_model(model_path: Path, part):
    """Checkpoint or QONNX -> hls4ml ModelGraph through the build's own export and lower steps, in a
    scratch folder (for `plan`, which writes nothing)."""
    from sqzfpga.hls.convert import convert

    with tempfile.TemporaryDirectory() as d:
        ctx = {"model_path": Path(model_path), "dir": Path(d)}
        step_export(ctx)
        step_lower(ctx)
        return convert(ctx["canon"], ctx["in_q"], Path(d) / "hls", part.device)


STEPS = [("export", step_export), ("lower", step_lower), ("samples", step_samples), ("hls", step_hls),
         ("rtl", step_rtl), ("csim", step_csim), ("project", step_project), ("deploy", step_deploy),
         ("report", step_report)]


def build(model_path: Path, part_name: str, out: Path, log=print, images: int = 200, data=None,
          backend: str = "Vitis", csim: bool = True, max_cycles: int | None = None, board: str | None = None,
          accel: str = "rtl", bitstream: bool = False, clock_mhz: float = 100.0, command: str | None = None) -> dict:
    """Run the steps into a temporary folder, write build.json and the report, swap it in as `out`.
    `command` is the command line the build was invoked with (for the report's "Reproduce")."""
    part = get_part(part_name)
    if board is not None:
        from sqzfpga.deploy.boards import get_board

        board = get_board(board, part.name)
        if not csim:
            raise UserError("--board with --no-csim: the deployment package carries the C simulation's outputs "
                            "to validate the board against; drop --no-csim")
    elif bitstream:
        raise UserError("--bitstream needs --board (the block design is per board); add --board BOARD")
    out = out.resolve()
    if out.exists() and not out.is_dir():
        raise UserError(f"build folder {out}: is a file; choose another --out")
    if out.is_dir() and any(out.iterdir()) and not (out / "build.json").exists():
        raise UserError(f"build folder {out}: exists and is not an sqzfpga build; choose another --out")
    if images < 1:
        raise UserError(f"--images {images}: expected a positive number of verification images")
    try:
        out.parent.mkdir(parents=True, exist_ok=True)
        tmp = Path(tempfile.mkdtemp(prefix=f".{out.name}.partial-", dir=out.parent))
    except OSError as e:
        raise UserError(f"build folder {out}: cannot be written ({e.strerror}); choose another --out") from None
    ctx = {"model_path": Path(model_path), "part": part, "dir": tmp, "images": images, "data": data,
           "backend": backend, "log": log, "max_cycles": max_cycles, "board": board, "accel": accel,
           "bitstream": bitstream, "clock_mhz": clock_mhz, "out": out,
           "command": command or f"python -m sqzfpga build --model {shlex.quote(str(model_path))} --part {part.name} "
                                 f"--out {shlex.quote(str(out))}"}
    steps = [(n, s) for n, s in STEPS if (csim or n != "csim") and (board is not None or n != "deploy")]
    timings = {}
    try:
        for name, step in steps:
            t0 = time.time()
            log(f"[build] {name} ...")
            step(ctx)
            timings[name] = round(time.time() - t0, 2)
        c = ctx.get("csim")
        summary = {"model": str(model_path), "part": part.name, "device": part.device, "out": str(out),
                   "backend": backend, "clock_mhz": clock_mhz, "fits": ctx["fit"]["fits"],
                   "memory_bits": ctx["fit"]["memory_bits"],
                   "bram18": ctx["fit"]["bram18"], "uram": ctx["fit"]["uram"], "dsp": ctx["fit"]["dsp"],
                   "csim": None if c is None else {k: c.get(k) for k in (
                       "images", "exact", "argmax_agreement", "accuracy", "torch_accuracy", "mismatching_values",
                       "layer_images", "compile_s", "s_per_image")},
                   "rtl": {k: ctx["rtl"]["plan"][k] for k in ("cycles_per_frame", "bottleneck", "lanes", "dsp",
                                                              "estimate", "macs_per_frame")},
                   "images_source": ctx["images_source"], "steps": timings, "next": " ".join(ctx["next_steps"]),
                   "board": None if board is None else board.name,
                   "deploy": None if board is None else str(out / "deploy")}
        (tmp / "build.json").write_text(json.dumps(summary, indent=2) + "\n")
        from sqzfpga.report.page import write_report

        write_report(tmp)
        swap_in(tmp, out)
    except ToolFailed as e:  # the partial folder stays: it holds the log the message names
        raise ToolFailed(f"{e} (the partial build is kept in {tmp})") from None
    except BaseException:
        shutil.rmtree(tmp, ignore_errors=True)
        raise
    log(f"[build] wrote {out} (report: {out / 'report.html'}, {out / 'report.md'})")
    for line in ctx["next_steps"]:
        log(f"[build] {line}")
    if ctx.get("vivado_missing"):
        raise UserError(ctx["vivado_missing"])
    return summary

