"""The dataflow's stages and units, as both backends name and fold them: stage N of layer L is
`lN_<L sanitised>`, its units are its layer type's (`LayerType.rtl`), and the input adapter comes first.
The planner (rtl.plan) folds this list; the RTL generator and the HLS kernels take their folding from it."""
from __future__ import annotations

import re

from sqzfpga.errors import UserError
from sqzfpga.ir.schema import Geometry
from sqzfpga.layers import REGISTRY
from sqzfpga.rtl.unit import Unit


def ident(text: str) -> str:
    """A name from a model file as a safe SystemVerilog / C++ / file-name identifier."""
    s = re.sub(r"[^A-Za-z0-9_]", "_", str(text)).strip("_") or "x"
    return s if s[0].isalpha() else f"n_{s}"


def stages(hm) -> list[tuple[object, str]]:
    """(hls4ml layer, stage name) of every layer after the input, in order."""
    out = []
    for layer in hm.get_layers():
        if layer.class_name == "Input":
            continue
        if layer.class_name not in REGISTRY:
            raise UserError(f"layer {layer.name!r} of type {layer.class_name}: not a registered sqzfpga layer type "
                            f"(known: {', '.join(sorted(REGISTRY))})")
        out.append((layer, f"l{len(out) + 1}_{ident(layer.name)}"))
    return out


def input_unit(hm) -> Unit:
    """The input adapter: bytes in, one pixel out per channel count of cycles."""
    first = Geometry.load(stages(hm)[0][0].attributes, "first layer")
    h, w, c = first.in_shape
    return Unit("input", "adapter", h * w * c, h * w)


def units(hm) -> tuple[list[Unit], dict[str, tuple[str, list[Unit]]]]:
    """(every unit, input adapter first; per layer name: (stage name, its units))."""
    out, by_layer = [input_unit(hm)], {}
    for layer, name in stages(hm):
        us, _ = REGISTRY[layer.class_name].rtl(layer, name)
        out += us
        by_layer[layer.name] = (name, us)
    return out, by_layer
