"""Configuration of the HLS kernels (templates/sqz_layers.h): one C++ struct per unit, from the unit
the planner folded (rtl.unit.Unit) and, for a conv-like unit, its ConvSpec: the numbers the RTL
generator writes into sqz_conv.sv's parameters, so both backends compute with the same folding, the
same weight ROM words and the same accumulators."""
from __future__ import annotations

import json
import math
from dataclasses import dataclass

import numpy as np
from hls4ml.model.types import IntegerPrecisionType

from sqzfpga.hls.cycles import Dataflow, Process, Sweep, window_trip
from sqzfpga.jinja import render
from sqzfpga.rtl.cost import rom_style
from sqzfpga.rtl.rom import ConvSpec, line_rows
from sqzfpga.rtl.unit import Unit

FOLD_KEYS = ("pi", "po", "pack", "rom", "lutmul")  # what the planner decides per unit


def sweep(h: int, w: int, c: int, k: int, s: int, pads, oh: int, ow: int, bin_: int, nstep: int) -> Sweep:
    """A window's geometry; a 1x1 stride-1 unpadded window sees one column of h*w pixels (as the RTL)."""
    if k == 1 and s == 1 and not any(pads):
        return Sweep(h * w, 1, c, 1, 1, 0, 0, oh * ow, 1, line_rows(1), bin_, nstep)
    return Sweep(h, w, c, k, s, pads[0], pads[1], oh, ow, line_rows(k), bin_, nstep)


def fold_of(units: list[Unit], prefix: str) -> str:
    """The planner's folding of a layer's units, keyed by the unit's name after the layer's (JSON)."""
    return json.dumps({u.name[len(prefix):]: [getattr(u, k) for k in FOLD_KEYS] for u in units}, sort_keys=True)


def apply_fold(units: list[Unit], prefix: str, fold: str) -> None:
    """Set each unit's folding from fold_of's text ("" or a unit it does not name: unfolded)."""
    table = json.loads(fold) if fold else {}
    for u in units:
        for k, v in zip(FOLD_KEYS, table.get(u.name[len(prefix):], [1, 1, 1, "", 0])):
            setattr(u, k, v)


def folded_pool(layer, unit: Unit, geo, window, bin_: int | None = None) -> tuple[Unit, Sweep | None]:
    """A pooling layer's unit (named "u") folded as its `fold` attribute says, and, when the input
    beat is known, its window's sweep."""
    apply_fold([unit], "u", layer.get_attr("fold", ""))
    (h, w, c), (oh, ow, _) = geo.in_shape, geo.out_shape
    return unit, None if bin_ is None else sweep(h, w, c, window.k, window.s, window.pads, oh, ow, bin_, unit.nstep)


@dataclass(frozen=True)
class Field:
    ctype: str
    name: str
    value: object


def bool_text(v) -> str:
    return "true" if v else "false"


def window_fields(u: Unit, sw: Sweep) -> list[Field]:
    """sqz::window's configuration for unit `u` reading beats of sw.bin channels."""
    g = math.gcd(sw.bin, u.pi)
    if u.kind == "conv":
        segs = [(c // u.po, ks) for c, ks in u.segments]
        chunks, by_co = u.cin // u.pi, False
    else:  # pooling: one chunk of one tap per step, the chunk picked by the output-chunk counter
        segs, chunks, by_co = [(u.cin // u.pi, sw.k)], 1, True
    segs = segs + [(1, 1)] * (2 - len(segs))
    f = [("H", sw.h), ("W", sw.w), ("C", sw.c), ("K", sw.k), ("S", sw.s), ("OH", sw.oh), ("OW", sw.ow),
         ("R", sw.r), ("BIN", sw.bin), ("G", g), ("BANKS", math.lcm(sw.bin, u.pi) // g), ("PI", u.pi),
         ("IN_CHUNKS", chunks), ("NSEG", len(u.segments) if u.kind == "conv" else 1), ("NCO0", segs[0][0]),
         ("KS0", segs[0][1]), ("NCO1", segs[1][0]), ("KS1", segs[1][1]), ("NSTEP", u.nstep),
         ("TRIP", window_trip(sw))]
    return ([Field("unsigned", n, v) for n, v in f] + [Field("int", "PT", sw.pt), Field("int", "PL", sw.pl),
                                                        Field("bool", "BY_CO", bool_text(by_co))])


def entry_bits(spec: ConvSpec) -> int:
    return spec.unit.pack * spec.scalars()["WB"] + spec.unit.pack - 1


def mac_fields(spec: ConvSpec) -> list[Field]:
    """sqz::mac's configuration (sqz_conv.sv's arithmetic parameters)."""
    u, p = spec.unit, spec.scalars()
    lanes = u.po // u.pack * u.pi
    coef = u.pack_shift + p["WB"] + 1
    f = [Field("unsigned", "PO", u.po), Field("unsigned", "PACK", u.pack), Field("unsigned", "LANES", lanes),
         Field("unsigned", "NBIAS", u.cout),
         Field("int", "PACK_SHIFT", u.pack_shift), Field("int", "WB", p["WB"]), Field("int", "IB", spec.xq.bits),
         Field("bool", "ISIGNED", bool_text(spec.xq.signed)), Field("int", "ACCW", p["ACCW"]),
         Field("int", "PSUM_W", coef + spec.xq.bits + 1 + math.ceil(math.log2(u.pi + 1))),
         Field("int", "D", p["D"]), Field("bool", "OSIGNED", bool_text(spec.oq.signed)),
         Field("int", "PROD_SHIFT0", p["PROD_SHIFT0"]), Field("int", "PROD_SHIFT1", p.get("PROD_SHIFT1", 0)),
         Field("bool", "RELU0", bool_text(p["RELU0"])), Field("bool", "RELU1", bool_text(p.get("RELU1", 0)))]
    return f


def struct(name: str, fields: list[Field], types: dict[str, str] | None = None) -> str:
    return render("unit_config.h.jinja", name=name, fields=fields, types=types or {})


def conv_weights(layer, prefix: str, spec: ConvSpec) -> None:
    """The unit's weight ROM (NSTEP words of LANES entries, flattened) and biases as hls4ml weights."""
    steps, biases = spec.entries()
    p = spec.scalars()
    layer.add_weights_variable(name=f"{prefix}weight", var_name=f"{prefix}w{{index}}",
                               precision=IntegerPrecisionType(entry_bits(spec), signed=True),
                               data=np.array([v for s in steps for v in s], dtype=np.float64))
    layer.add_weights_variable(name=f"{prefix}bias", var_name=f"{prefix}b{{index}}",
                               precision=IntegerPrecisionType(p["ACCW"], signed=True),
                               data=np.array([v for b in biases for v in b], dtype=np.float64))


def conv_struct(name: str, spec: ConvSpec, sw: Sweep, node, prefix: str) -> str:
    types = {"weight_t": node.get_weights(f"{prefix}weight").type.name,
             "bias_t": node.get_weights(f"{prefix}bias").type.name}
    return struct(name, window_fields(spec.unit, sw) + mac_fields(spec), types)


def weight_pragmas(node, prefix: str, spec: ConvSpec) -> list[str]:
    """The call site's pragmas on a unit's ROMs: one word per step (reshaped by the lanes), bound to
    block RAM or LUTs as the planner decided (rom_style, the rule the RTL's WSTYLE follows)."""
    u = spec.unit
    w, b = node.get_weights(f"{prefix}weight").name, node.get_weights(f"{prefix}bias").name
    impl = "bram" if rom_style(u) == "block" else "lutram"
    lanes = u.po // u.pack * u.pi
    out = [f"#pragma HLS ARRAY_RESHAPE variable = {w} cyclic factor = {lanes} dim = 1"] if lanes > 1 else []
    out += [f"#pragma HLS BIND_STORAGE variable = {w} type = rom_1p impl = {impl}",
            f"#pragma HLS ARRAY_RESHAPE variable = {b} cyclic factor = {u.po} dim = 1" if u.po > 1 else "",
            f"#pragma HLS BIND_STORAGE variable = {b} type = rom_1p impl = lutram"]
    return [p for p in out if p]


def beat_of(var) -> int:
    """Channels per beat of an hls4ml stream variable (its PackedType: n_elem / n_pack when unpacked)."""
    t = var.type
    return t.n_elem // t.n_pack if getattr(t, "unpack", False) else t.n_elem * getattr(t, "n_pack", 1)


def step_bits(u: Unit) -> int:
    """Bits of one window step on its stream: PI channels and the padding flag."""
    return u.pi * u.ibits + 1


def unit_dataflow(u: Unit, sw: Sweep, name: str) -> Dataflow:
    """A windowed unit's two processes (window, then mac or pool) and the step stream between them."""
    return Dataflow([Process(f"{name}.window", window_trip(sw)), Process(f"{name}.{'mac' if u.kind == 'conv' else 'reduce'}",
                                                                         sw.oh * sw.ow * u.nstep)],
                    [(step_bits(u), 2)])
