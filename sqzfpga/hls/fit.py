"""Folding, FIFO depths and the fit check: per-layer memory (BRAM18) and DSP estimates against a part.

Estimates, stated as such: weights are ROMs, line buffers and FIFOs are RAMs, each packed into
BRAM18 blocks by the aspect ratios the primitive offers (small ones go to LUTRAM); a multiply maps
to a DSP48 when both operands are wider than 4 bits (Vivado builds narrower ones from LUTs).
Synthesis (Vivado, or Yosys on the RTL backend) gives the real figures.
"""
from __future__ import annotations

import math

from sqzfpga.errors import UserError
from sqzfpga.ir.registry import ConvPart
from sqzfpga.layers import REGISTRY
from sqzfpga.parts import BRAM18_ASPECTS, Part

BRAM18_BITS = 18 * 1024
URAM_BITS = 288 * 1024
LUTRAM_MAX_BITS = 1024  # smaller memories are left in LUTs
SRL_MAX_DEPTH = 64  # shallow memories (FIFOs, partitioned line buffers) become SRL/LUTRAM


def bram18(width: int, depth: int) -> int:
    """BRAM18 blocks for a width x depth memory (0 when LUTRAM is the better home)."""
    if width * depth <= LUTRAM_MAX_BITS or depth <= SRL_MAX_DEPTH:
        return 0
    return min(math.ceil(width / w) * math.ceil(depth / d) for w, d in BRAM18_ASPECTS)


def conv_parts(layer) -> list[ConvPart]:
    """Each convolution of an hls4ml layer, from its layer type (one that has none says so: [])."""
    if layer.class_name == "Input":  # hls4ml's own input layer: no weights
        return []
    return REGISTRY[layer.class_name].conv_parts(layer)


def plan_reuse(layers) -> dict[str, int]:
    """Reuse factor per layer: balance every layer to the slowest one's cycles per frame.

    A conv part computes out_pixels x filters dot products of K*K*C terms; with reuse factor R it
    uses K*K*C/R multipliers and takes out_pixels x filters x R cycles. The layer with the most
    dot products runs fully parallel (R=1); every other layer gets the largest R (a divisor of
    K*K*C) that keeps it no slower, which saves multipliers where the map is small.
    """
    work = {layer.name: max(p.out_pixels * p.config["n_filt"] for p in conv_parts(layer))
            for layer in layers if conv_parts(layer)}
    target = max(work.values(), default=1)
    plan = {}
    for layer in layers:
        parts = conv_parts(layer)
        if not parts:
            continue
        terms = min(p.config["kernel"] ** 2 * p.in_channels for p in parts)
        plan[layer.name] = max(r for r in range(1, terms + 1) if terms % r == 0 and work[layer.name] * r <= target)
    return plan


def fifo_depths(layers) -> dict[str, int]:
    """Depth of each layer's output stream: the largest burst it can emit for one input beat, + 1.

    Our layers emit an output pixel as soon as its window is complete, so a FIFO needs to absorb
    only the outputs released by one input pixel (up to one output row at the last input row),
    never a whole frame; the graph is a chain (Fire modules are fused), so no path can deadlock.
    """
    depths = {}
    for layer in layers:
        attrs = layer.attributes
        if layer.get_attr("in_shape") is None:
            continue
        (h, w, _), (oh, ow, _) = attrs["in_shape"], attrs["out_shape"]
        window = REGISTRY[layer.class_name].window(attrs)
        if window is None:  # one output per frame
            depths[layer.name] = 2
            continue
        k, s, pads = window.k, window.s, window.pads
        burst, oy, ox = 0, 0, 0
        for r in range(h):
            for c in range(w):
                n = 0
                while oy < oh:
                    lr = min(h - 1, oy * s - pads[0] + k - 1)
                    lc = min(w - 1, ox * s - pads[1] + k - 1)
                    if not (r > lr or (r == lr and c >= lc)):
                        break
                    n += 1
                    ox += 1
                    if ox == ow:
                        ox, oy = 0, oy + 1
                burst = max(burst, n)
        depths[layer.name] = burst + 1
    return depths


def estimate(model) -> list[dict]:
    """Per-layer memory bits, BRAM18 blocks and DSPs of a converted ModelGraph (after folding)."""
    rows = []
    for layer in model.get_layers():
        if layer.get_attr("in_shape") is None:
            continue
        rf = layer.get_attr("reuse_factor", 1)
        wbits = wblocks = 0
        arrays = []
        for part in conv_parts(layer):
            # a ROM read K*K*C/reuse weights per cycle: that many side by side, filters x reuse deep
            for kind, terms in (("weight", part.config["kernel"] ** 2 * part.in_channels), ("bias", 1)):
                v = layer.get_weights(f"{part.prefix}{kind}")
                width = v.type.precision.width
                lanes = math.ceil(terms / rf) if kind == "weight" else 1
                depth = math.ceil(v.data_length / lanes)
                wbits += width * v.data_length
                arrays.append((width * v.data_length, bram18(width * lanes, depth)))
                wblocks += arrays[-1][1]
        line = REGISTRY[layer.class_name].line_buffers(layer)  # (width, depth) of line buffers
        lbits = sum(wd * d for wd, d in line)
        lblocks = sum(bram18(wd, d) for wd, d in line)
        out = layer.get_output_variable()
        depth = out.pragma[1] if isinstance(getattr(out, "pragma", None), tuple) else 2
        fwidth = out.shape[-1] * out.type.precision.width
        dsp = 0
        for part in conv_parts(layer):
            wq = layer.get_weights(f"{part.prefix}weight")
            if wq.type.precision.width > 4 and part.in_bits > 4:
                dsp += math.ceil(part.config["kernel"] ** 2 * part.in_channels / rf)
        rows.append({"layer": layer.name, "type": layer.class_name.replace("Sqz", ""), "reuse": rf,
                     "weight_bits": wbits, "weight_bram18": wblocks, "weight_arrays": arrays,
                     "buffer_bits": lbits, "buffer_bram18": lblocks,
                     "fifo_depth": depth, "fifo_bits": fwidth * depth, "fifo_bram18": bram18(fwidth, depth),
                     "dsp": dsp})
    return rows


def check(rows: list[dict], part: Part) -> dict:
    """Totals against the part; weights spill to URAM where the part has it. Raises when it does not fit."""
    bram = sum(r["weight_bram18"] + r["buffer_bram18"] + r["fifo_bram18"] for r in rows)
    dsp = sum(r["dsp"] for r in rows)
    uram = 0
    if bram > 2 * part.bram36 and part.uram:
        for bits, blocks in sorted((a for r in rows for a in r["weight_arrays"]), reverse=True):
            if bram <= 2 * part.bram36:
                break
            bram -= blocks
            uram += math.ceil(bits / URAM_BITS)
    bits = sum(r["weight_bits"] + r["buffer_bits"] + r["fifo_bits"] for r in rows)
    summary = {"part": part.name, "memory_bits": bits, "bram18": bram, "bram18_available": 2 * part.bram36,
               "uram": uram, "uram_available": part.uram, "dsp": dsp, "dsp_available": part.dsp}
    summary["fits"] = bram <= 2 * part.bram36 and uram <= part.uram and dsp <= part.dsp
    return summary


def refuse(rows: list[dict], summary: dict, part: Part) -> None:
    if summary["fits"]:
        return
    big = sorted(rows, key=lambda r: -(r["weight_bram18"] + r["buffer_bram18"] + r["fifo_bram18"]))[:3]
    largest = ", ".join(f"{r['layer']} {r['weight_bram18'] + r['buffer_bram18'] + r['fifo_bram18']}" for r in big)
    raise UserError(
        f"model does not fit {part.name}: needs {summary['bram18']} BRAM18 (has {summary['bram18_available']}"
        + (f", {summary['uram']} URAM of {part.uram}" if part.uram else "")
        + f"), {summary['dsp']} DSP (has {part.dsp}), {summary['memory_bits'] / 1e6:.2f} Mbit on chip; largest "
        f"layers (BRAM18): {largest}; use fewer weight bits (--weight-bits at training), a narrower model "
        "(width multiplier) or a larger part (xczu7ev, xczu9eg)")
