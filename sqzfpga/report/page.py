"""The build report: report.md (figures in report/) and report.html (self-contained), both rendered
from the files of a build folder by `write_report`, so that `rtl`, `rtlsim` and `synth` only have
to write their results and render again.

The build stores what only its in-memory graph knows (per-layer rows, value ranges, the command it
was run with) in report.json (`facts`); rtl/rtl.json, build.json (the resource estimates of both
backends), rtlsim.json, rtl/synth.json and rtl/timing.json supply the rest. An --accel hls build whose RTL backend
failed has no rtl/: its report shows the HLS figures and, where the RTL's would be, why it has none
(build.json's `rtl_error`).
"""
from __future__ import annotations

import base64
import json
import re
import shlex
from pathlib import Path

import jinja2
import numpy as np

from sqzfpga.atomic import atomic_path
from sqzfpga.errors import UserError
from sqzfpga.jinja import environment

FACTS = "report.json"
FIGURES = "report"  # folder of report.md's PNG files
CLI = "python -m sqzfpga"
_jinja = environment(autoescape=jinja2.select_autoescape(enabled_extensions=("html.jinja",),
                                                         default_for_string=False),
                     trim_blocks=True, lstrip_blocks=True)
_jinja.filters["cell"] = lambda v: str(v).replace("|", "\\|")  # a Markdown table cell


# ---- gathered at build time, from the hls4ml ModelGraph ---------------------------------------------
def type_range(p) -> tuple[float, float]:
    """Smallest and largest value of an ap_(u)fixed<width, integer> precision."""
    step = 2.0 ** -(p.width - p.integer)
    if p.signed:
        return -(2.0 ** (p.integer - 1)), 2.0 ** (p.integer - 1) - step
    return 0.0, 2.0 ** p.integer - step


def type_name(p) -> str:
    return f"ap_{'' if p.signed else 'u'}fixed<{p.width},{p.integer}>"


def _weights(layer) -> list:
    """A layer's weight arrays (biases excluded)."""
    return [v for k, v in layer.weights.items() if k.endswith("weight")]


def weight_facts(layer) -> tuple[str, dict | None]:
    """(weight types, observed and representable range) of a layer's weights (biases excluded)."""
    ws = _weights(layer)
    if not ws:
        return "-", None
    types = [v.type.precision for v in ws]
    lo, hi = zip(*(type_range(p) for p in types))
    names = " / ".join(dict.fromkeys(type_name(p) for p in types))
    return names, {"min": float(min(np.min(v.data) for v in ws)), "max": float(max(np.max(v.data) for v in ws)),
                   "type_min": min(lo), "type_max": max(hi), "type": names}


def activation_ranges(onnx_model, golden: dict, images: np.ndarray, batch: int = 50) -> dict[str, tuple]:
    """Smallest and largest output of every layer on `images` (the reference, which the C simulation
    equals bit for bit), in batches to bound the memory of a full trace."""
    from sqzfpga.hls.csim import golden_layers

    out: dict[str, tuple] = {}
    for i in range(0, len(images), batch):
        for name, v in golden_layers(onnx_model, golden, images[i:i + batch]).items():
            lo, hi = out.get(name, (np.inf, -np.inf))
            out[name] = (min(lo, float(v.min())), max(hi, float(v.max())))
    return out


def layer_facts(hm, rows: list[dict], acts: dict[str, tuple]) -> list[dict]:
    """One dict per hls4ml layer (fit.estimate's rows, in graph order): shape, types, parameters,
    memory, weight and activation ranges."""
    layers = {l.name: l for l in hm.get_layers()}
    facts = []
    for r in rows:
        layer = layers[r["layer"]]
        out = layer.get_output_variable()
        p = out.type.precision
        wtype, wrange = weight_facts(layer)
        lo, hi = type_range(p)
        act = acts.get(r["layer"])
        facts.append({
            "layer": r["layer"], "type": r["type"], "shape": "x".join(map(str, out.shape)), "precision": type_name(p),
            "weight_precision": wtype, "act_width": p.width,
            "weight_widths": sorted({v.type.precision.width for v in _weights(layer)}),
            "parameters": sum(int(v.data_length) for v in layer.get_weights()),
            "memory_bits": r["weight_bits"] + r["buffer_bits"] + r["fifo_bits"],
            **{k: r[k] for k in ("weight_bits", "buffer_bits", "fifo_bits", "lanes", "fifo_depth")},
            "hls_dsp": r["dsp"], "hls_bram18": r["weight_bram18"] + r["buffer_bram18"] + r["fifo_bram18"],
            "weights": wrange,
            "activations": None if act is None else {"min": act[0], "max": act[1], "type_min": lo, "type_max": hi,
                                                     "type": type_name(p)}})
    return facts


# ---- rendering, from the build folder ---------------------------------------------------------------
def _read(path: Path) -> dict | None:
    return json.loads(path.read_text()) if path.exists() else None


def layer_of(unit: str) -> int | None:
    """0-based hls4ml layer index of an RTL unit (`l3_fire1.expand` -> 2); None for the input adapter."""
    m = re.match(r"l(\d+)_", unit)
    return int(m.group(1)) - 1 if m else None


def with_rtl(layers: list[dict], plan: dict) -> list[dict]:
    """The layers with their RTL units' DSP, LUT and BRAM36 summed, cycles the slowest unit's."""
    out = [dict(l, units=[]) for l in layers]
    for u in plan["units"]:
        i = layer_of(u["name"])
        if i is not None and i < len(out):
            out[i]["units"].append(u)
    for l in out:
        us = l.pop("units")
        l.update(dsp=sum(u["dsp"] for u in us), lut=sum(u["lut"] for u in us),
                 bram36=sum(u["bram36"] for u in us), cycles=max((u["cycles"] for u in us), default=None),
                 bottleneck=any(u["name"] == plan["bottleneck"] for u in us))
    return out


def multipliers(u: dict) -> str:
    """How a planned unit multiplies: DSP slices, packed DSP pairs, or LUTs ('-' without any)."""
    if not u["lanes"]:
        return "-"
    return f"{u['lanes']} " + ("LUT" if u["lutmul"] else "DSP/2" if u["pack"] == 2 else "DSP")


def rom(u: dict) -> str:
    return "LUT" if u.get("rom") == "distributed" else "-" if u["kind"] != "conv" else "auto"


def accuracy_bars(facts: dict, csim: dict | None, rtlsim: dict | None, labelled: bool, cmd: dict) -> list[dict]:
    """Float / quantized PyTorch / C simulation / RTL accuracy; a missing one says why and how to get it."""
    m = facts["model"]
    no_labels = "no labels: rebuild with --data DIR for accuracy"
    from_ckpt = "not known: the model was given as QONNX (a checkpoint records it)"
    bars = [
        {"label": "float model (test set)", "value": m["float_accuracy"], "missing": from_ckpt},
        {"label": "quantized PyTorch (test set)", "value": m["accuracy"], "missing": from_ckpt},
        {"label": f"quantized PyTorch ({csim['images'] if csim else 'no'} verification images)",
         "value": (csim or {}).get("torch_accuracy"),
         "missing": no_labels if csim and not labelled else from_ckpt if csim else f"not run: {cmd['build']}"},
        {"label": f"C simulation ({csim['images']} verification images)" if csim else "C simulation",
         "value": (csim or {}).get("accuracy"),
         "missing": no_labels if csim else f"not run (built with --no-csim): {cmd['build']}"},
        {"label": f"RTL simulation ({rtlsim['images']} verification images)" if rtlsim else "RTL simulation",
         "value": (rtlsim or {}).get("accuracy"),
         "missing": no_labels if rtlsim else f"not run: {cmd['rtlsim']}" if cmd["rtlsim"] else "no RTL"},
    ]
    return bars


def fit_rows(plan: dict, synth: dict | None, part: dict) -> list[dict]:
    """The RTL's resources: the planner's estimate and budget, Yosys's counts."""
    return [{"name": k.upper(), "estimate": plan["estimate"][k], "available": part[k], "budget": plan["budget"][k],
             "synth": None if synth is None else synth[k]} for k in ("lut", "ff", "bram36", "dsp")]


def commands(summary: dict, facts: dict, rtlsim: dict | None, has_rtl: bool) -> dict:
    """The report's commands; without rtl/, `rtl` (after fixing what the RTL backend failed on) comes
    first and rtlsim/synth are None."""
    out = shlex.quote(summary["out"])
    cmd = {"build": facts["command"], "rtl": f"{CLI} rtl --build {out}",
           "rtlsim": f"{CLI} rtlsim --build {out} --images {rtlsim['images'] if rtlsim else 20}" if has_rtl else None,
           "synth": f"{CLI} synth --build {out}" if has_rtl else None,
           "deploy": f"{CLI} deploy --build {out} --host HOST" if summary.get("board") else None}
    return cmd


def speed(cycles: float, latency_cycles: int | None, cycles_from: str, clock_mhz: float, timing: dict | None,
          unanalysed: str) -> dict:
    """The report's frame rate (rtl.rate): frames/s and batch-1 latency at min(requested clock, fmax),
    whose cycles they are, and a note on where the clock comes from (`unanalysed`: why there is no
    estimate, or how to get one)."""
    from sqzfpga.rtl.rate import rate

    r = rate(cycles, latency_cycles, clock_mhz, timing)
    note = r.note(unanalysed)
    return {**r.to_dict(), "cycles": cycles, "cycles_from": cycles_from, "note": note}


def gather(build_dir: Path) -> dict:
    """Everything the report shows, from the files of the build folder."""
    from sqzfpga.hls.project import PROJECT
    from sqzfpga.parts import get_part

    summary = json.loads((build_dir / "build.json").read_text())
    facts = _read(build_dir / FACTS)
    if facts is None or "hls" not in summary:
        raise UserError(f"build folder {build_dir}: has no {FACTS} or build.json without resources per backend "
                        f"(written by an older sqzfpga); rebuild it with `{CLI} build --out {build_dir}` for a report")
    manifest = _read(build_dir / "rtl" / "rtl.json")
    rtlsim, synth = _read(build_dir / "rtlsim.json"), _read(build_dir / "rtl" / "synth.json")
    part = get_part(summary["part"])
    cmd = commands(summary, facts, rtlsim, manifest is not None)
    hls_fit, clock = summary["hls"], facts["clock_mhz"]
    common = {"summary": summary, "facts": facts, "model": facts["model"], "manifest": manifest,
              "clock_mhz": clock, "csim": summary.get("csim"), "rtlsim": rtlsim, "synth": synth,
              "accuracy": accuracy_bars(facts, summary.get("csim"), rtlsim, facts["labelled"], cmd),
              "hls_fit": hls_fit, "part": part, "commands": cmd, "next_steps": facts["next_steps"]}
    if manifest is None:  # the HLS accelerator's figures only
        return {**common, "title": PROJECT, "input_bits": facts["model"]["input_bits"], "plan": None,
                "layers": facts["layers"], "timing": None,  # the HLS accelerator's timing is Vitis HLS's
                "speed": speed(hls_fit["cycles_per_frame"], None, "HLS estimate, hls/fit.py", clock, None,
                               "the timing estimate covers the generated RTL, not the HLS accelerator"),
                "rtl_missing": f"the RTL backend failed: {summary['rtl_error']}" if summary.get("rtl_error") else
                "rtl/ has not been generated"}
    plan = manifest["plan"]
    layers = with_rtl(facts["layers"], plan)
    timing = _read(build_dir / "rtl" / "timing.json")
    measured = (rtlsim["cycles_per_frame"], rtlsim["latency_cycles"], "RTL simulation") if rtlsim else \
        (plan["cycles_per_frame"], None, "RTL plan")
    return {**common, "title": manifest["top"].replace("_top", ""), "input_bits": manifest["input"]["bits"],
            "plan": plan, "layers": layers, "bottleneck": next((l["layer"] for l in layers if l["bottleneck"]), None),
            "bottleneck_unit": plan["bottleneck"],
            "units": [dict(u, multipliers=multipliers(u), rom=rom(u)) for u in plan["units"]],
            "speed": speed(*measured, clock, timing, f"`{cmd['synth']}` estimates fmax"),
            "fit": fit_rows(plan, synth, part.capacity()),
            "timing": timing, "rtl_missing": None}


def figures(data: dict) -> dict[str, tuple[str, bytes]]:
    """name -> (caption, PNG bytes)."""
    from sqzfpga.report import plots

    measured = data["rtlsim"]["cycles_per_frame"] if data["rtlsim"] else None
    accuracy = ("Accuracy: float and quantized models, C and RTL simulation", plots.accuracy(data["accuracy"]))
    ranges = ("Weight and activation ranges against each layer's representable range", plots.ranges(data["layers"]))
    if data["plan"] is None:  # fit, resources and cycles are the RTL plan's
        return {"accuracy": accuracy, "ranges": ranges}
    return {
        "accuracy": accuracy,
        "fit": ("Fit against the part: RTL plan estimate and Yosys synthesis", plots.fit(data["fit"])),
        "resources": ("Resources per layer (RTL plan; memory bits from the fit estimate)",
                      plots.resources(data["layers"])),
        "cycles": ("Cycles per frame of each layer; bottleneck in red",
                   plots.cycles(data["layers"], data["plan"]["cycles_per_frame"], data["bottleneck"], measured)),
        "ranges": ranges,
    }


def write_report(build_dir: Path) -> tuple[Path, Path]:
    """Render report.md (figures under report/) and report.html (self-contained) of a build folder."""
    build_dir = Path(build_dir)
    data = gather(build_dir)
    figs = figures(data)
    md = _jinja.get_template("report.md.jinja").render(
        **data, figures={n: (cap, f"{FIGURES}/{n}.png") for n, (cap, _) in figs.items()})
    html = _jinja.get_template("report.html.jinja").render(
        **data, figures={n: (cap, "data:image/png;base64," + base64.b64encode(png).decode())
                         for n, (cap, png) in figs.items()})
    for name, (_, png) in figs.items():  # written once everything rendered
        with atomic_path(build_dir / FIGURES / f"{name}.png") as tmp:
            tmp.write_bytes(png)
    paths = build_dir / "report.md", build_dir / "report.html"
    for path, text in zip(paths, (md, html)):
        with atomic_path(path) as tmp:
            tmp.write_text(text.strip() + "\n")
    for old in (build_dir / FIGURES).glob("*.png"):  # an earlier render's figure this one does not show
        if old.stem not in figs:
            old.unlink()
    return paths
