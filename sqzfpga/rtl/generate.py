"""hls4ml ModelGraph -> SystemVerilog dataflow (the RTL writer).

Reads the same graph the HLS writer reads (layer attributes: geometry, integer weights, power-of-two
types), plans the folding (sqzfpga.rtl.plan), writes one ROM init file per weight memory and the
top module from `templates/rtl/sqznet_top.sv.jinja`; the module library (`templates/rtl/*.sv`) is
copied beside it. Each layer's units and SV parameters come from its layer type (sqzfpga/layers/).
Output is deterministic: same graph and plan, same bytes.
"""
from __future__ import annotations

import json
import shutil
from pathlib import Path

from sqzfpga import jinja
from sqzfpga.driver.layout import Layout
from sqzfpga.ir.schema import Geometry
from sqzfpga.ir.types import QType
from sqzfpga.layers import REGISTRY
from sqzfpga.layers.units import input_unit, stages
from sqzfpga.rtl.plan import Budget, plan_stream
from sqzfpga.rtl.unit import Unit
from sqzfpga.tools import lint

LIBRARY = Path(__file__).resolve().parent.parent / "templates" / "rtl"
WIDE_ADAPTER = LIBRARY / "wide" / "sqz_beats_to_pixels.sv"  # copied only into a build whose input beats are wide
TOP = "sqznet_top"


def library_sources() -> list[Path]:
    return sorted(LIBRARY.glob("*.sv"))


# ---- the whole design ----------------------------------------------------------------------------
def _literal(v) -> str:
    """An SV parameter value. An integer in the 32-bit signed range is a plain decimal (SV reads it as a
    32-bit `int`, which is how the library declares every parameter that can be negative); one beyond it
    is a 64-bit literal for a `longint` parameter (a plain 4294967295 would be read as the 32-bit -1)."""
    if isinstance(v, str):
        return '"' + v + '"'
    v = int(v)
    if -2**31 <= v < 2**31:
        return str(v)
    if not -2**63 <= v < 2**63:
        raise ValueError(f"SV parameter value {v} does not fit 64 bits")
    return f"64'sh{v & (2**64 - 1):016X}"


def design(hm) -> tuple[list, list]:
    """(units, [(instance name, render, out channels, out type, out pixels)]) of every layer, in order."""
    layers, units = [], []
    for layer, name in stages(hm):
        us, render = REGISTRY[layer.class_name].rtl(layer, name)
        units += us
        geo = Geometry.load(layer.attributes, f"layer {layer.name!r}")
        oh, ow, oc = geo.out_shape
        layers.append((name, render, oc, geo.out_q, oh * ow))
    return units, layers


def _geometries(hm) -> list[Geometry]:
    return [Geometry.load(l.attributes, f"layer {l.name!r}") for l in hm.get_layers() if l.class_name != "Input"]


def first_input(hm) -> tuple[int, QType, int]:
    first = _geometries(hm)[0]
    h, w, c = first.in_shape
    return c, first.in_q, h * w


def layout_of(hm, stream_bits: int = 8) -> Layout:
    """The DMA byte layout (driver/layout.py) of the graph's input and output streams."""
    geos = _geometries(hm)
    h, w, c = geos[0].in_shape
    oh, ow, oc = geos[-1].out_shape
    oq = geos[-1].out_q
    return Layout(channels=c, height=h, width=w, out_words=oh * ow * oc, out_bits=oq.bits, out_frac=oq.frac,
                  out_signed=bool(oq.signed), stream_bits=stream_bits)


def write(hm, folder: Path, bud: Budget, max_cycles: int | None = None, stream_bits: int | None = None) -> dict:
    """generate() for `bud`, then lint the result with Verilator (a generator bug stops the build)."""
    manifest = generate(hm, folder, bud, max_cycles, stream_bits)
    lint(folder, manifest["top"], manifest["sources"])
    return manifest


def units_of(hm) -> tuple[list[Unit], list]:
    """The dataflow's units (input adapter first) and layers, as design() returns them."""
    units, layers = design(hm)
    return [input_unit(hm)] + units, layers


def generate(hm, folder: Path, bud: Budget, max_cycles: int | None = None, stream_bits: int | None = None) -> dict:
    """Write the RTL design of `hm` into `folder` (created), folded by the planner for `bud` (and
    `max_cycles`, when given), its input stream `stream_bits` wide (None: the planner's choice); return
    the manifest (also rtl.json)."""
    units, layers = units_of(hm)
    c_in, in_q, in_px = first_input(hm)
    folder.mkdir(parents=True, exist_ok=True)
    p, stream_bits = plan_stream(units, bud, max_cycles, stream_bits)
    stages = []
    for name, render, oc, oq, opx in layers:
        module, params = render(folder)
        stages.append({"name": name, "module": module, "params": {k: _literal(v) for k, v in params.items()},
                       "width": oc * oq.bits})
    last_c, last_q, last_px = layers[-1][2], layers[-1][3], layers[-1][4]
    frame_bytes, flags = in_px * c_in, 2 * (len(stages) + 3)  # flags: see the top's comment
    in_params = {"C": str(c_in), "IB": str(in_q.bits), "FRAME": str(frame_bytes), "FLAGS": str(flags)}
    in_module = "sqz_bytes_to_pixels"
    if stream_bits > 8:  # NB bytes per beat: the wide adapter
        in_module, in_params["NB"] = WIDE_ADAPTER.stem, str(stream_bits // 8)
    adapters = [{"name": "input_adapter", "module": in_module, "params": in_params},
                {"name": "input_fifo", "module": "sqz_fifo",  # as the top instantiates it
                 "params": {"WIDTH": str(c_in * in_q.bits), "DEPTH": "2", "STYLE": '"distributed"'}},
                {"name": "output_adapter", "module": "sqz_scores_to_words",
                 "params": {"C": str(last_c), "OB": str(last_q.bits), "OSIGNED": str(int(last_q.signed)),
                            "NPIX": str(last_px)}}]
    top = jinja.render(
        "rtl/sqznet_top.sv.jinja", top=TOP, c_in=c_in, in_bits=in_q.bits, stages=stages, out_c=last_c,
        out_bits=last_q.bits, out_signed=int(last_q.signed), out_pixels=last_px, frame_bytes=frame_bytes, flags=flags,
        stream_bits=stream_bits, fifo=adapters[1])
    (folder / f"{TOP}.sv").write_text(top + "\n")
    library = library_sources() + [WIDE_ADAPTER] * (stream_bits > 8)
    for src in library:
        shutil.copyfile(src, folder / src.name)
    manifest = {"top": TOP, "sources": [s.name for s in library] + [f"{TOP}.sv"],
                "input": {"channels": c_in, "pixels": in_px, "bits": in_q.bits},
                "output": {"channels": last_c, "pixels": last_px, "bits": last_q.bits, "frac": last_q.frac,
                           "signed": last_q.signed},
                "layout": layout_of(hm, stream_bits).to_dict(),
                "plan": p,
                "stages": adapters[:2] + [{k: st[k] for k in ("name", "module", "params")} for st in stages] +
                          adapters[2:]}
    (folder / "rtl.json").write_text(json.dumps(manifest, indent=1) + "\n")
    return manifest

