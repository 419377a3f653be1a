"""The HLS design's fit and rate: what Vitis HLS instantiates for the generated project, per layer.

Estimates, stated as such. The kernels take the RTL planner's folding (hls/convert.py), so the
multipliers are the same: DSP slices exactly as the RTL's (one per multiplier, one per packed pair,
none for LUT multipliers bound to fabric). Memories by their shapes in the generated C++ and Vitis's
binding rules (hls/binding.py): weight ROMs one word per step, bound to block RAM or LUTs as the call
site's BIND_STORAGE says; line buffers R x W x C/G words of G channels in BANKS cyclic banks, bound by
size (block RAM above 4 kbit and 64 words, as the RTL's rule); every stream FIFO (between layers and
inside them) under Vitis's default FIFO binding. Logic LUT/FF: the RTL cost model's for the same
folded unit (calibrated on Yosys; Vitis's datapath is of the same shape), plus the FIFOs' and memories'.
Cycles per frame: the slowest process of the dataflow (hls/cycles.py).
"""
from __future__ import annotations

import dataclasses
import math

from sqzfpga.errors import UserError
from sqzfpga.hls import binding
from sqzfpga.hls.convert import FIFO_DEPTH
from sqzfpga.hls.cycles import interval
from sqzfpga.hls.kernel import apply_fold, beat_of
from sqzfpga.layers import REGISTRY
from sqzfpga.layers.units import units
from sqzfpga.parts import Part
from sqzfpga.rtl.cost import estimate as unit_cost, memories, memory_cost, rom_style, rom_width, style
from sqzfpga.rtl.rom import line_rows
from sqzfpga.rtl.unit import Unit

URAM_BITS = 288 * 1024


def _hls_rows(u: Unit) -> int:
    """Line-buffer rows of the unit's HLS window (sqz::window: line_rows(K), as hls.kernel.sweep gives
    it); the RTL's Unit.rows may be more (rtl.rom.window_rows: the next window's rows too)."""
    k = math.isqrt(u.taps) if u.kind == "pool" else max(ks for _, ks in u.segments)
    return line_rows(k)


def _memories(u: Unit) -> tuple[list[binding.Storage], list[binding.Storage]]:
    """(weight ROM, line-buffer banks) of one unit as the kernel declares them (sqz::window, sqz::mac; an
    input table's ROM of 256 words per channel, sqz::table)."""
    if u.kind == "table":
        return [binding.memory(u.obits, 256, "bram", rom=True) for _ in range(u.cin)], []
    if u.kind not in ("conv", "pool"):
        return [], []
    rom = []
    if u.kind == "conv":
        rom = [binding.memory(rom_width(u), u.nstep, "bram" if rom_style(u) == "block" else "lutram", rom=True)]
    words = _hls_rows(u) * u.row_px * u.chunks  # stored at PI channels per word (G = PI when beats are PI wide)
    bits = u.pi * u.ibits
    impl = "bram" if style(bits * words, words) == "block" else "lutram"
    return rom, [binding.memory(bits, words, impl)]


def _logic(u: Unit) -> tuple[float, float]:
    """(LUT, FF) of the unit's datapath: the RTL cost model without its memories."""
    c = unit_cost(u)
    mem_luts = sum(memory_cost(w, d, k)[1] for w, d, k in memories(u))
    return c["lut"] - mem_luts, c["ff"]


def estimate(hm) -> list[dict]:
    """Per layer: weights, line buffers, FIFOs (bits, BRAM18, LUTs), DSP, LUT, FF and cycles per frame."""
    _, by_layer = units(hm)
    rows = []
    for layer in hm.get_layers():
        if layer.class_name not in REGISTRY:
            continue
        stage, us = by_layer[layer.name]
        apply_fold(us, stage, layer.get_attr("fold", ""))
        flow = REGISTRY[layer.class_name].hls_dataflow(layer, beat_of(layer.get_input_variable()))
        out = layer.get_output_variable()
        beat_bits = beat_of(out) * out.type.precision.width
        fifos = [binding.fifo(w, d) for w, d in flow.streams + [(beat_bits, FIFO_DEPTH)]]
        roms, bufs = [], []
        lut = ff = 0.0
        for u in us:
            r, b = _memories(u)
            roms, bufs = roms + r, bufs + b
            lg, f = _logic(u)
            lut, ff = lut + lg, ff + f
        storage = roms + bufs + fifos
        cycles, slow = interval(flow.processes)
        rows.append({
            "layer": layer.name, "type": layer.class_name.replace("Sqz", ""), "lanes": sum(u.lanes for u in us),
            "weight_bits": sum(u.weights() * u.wbits for u in us if u.kind == "conv"),
            "weight_bram18": sum(s.bram18 for s in roms),
            "buffer_bits": sum(_hls_rows(u) * u.row_px * u.cin * u.ibits for u in us if u.kind in ("conv", "pool")),
            "buffer_bram18": sum(s.bram18 for s in bufs),
            "fifo_depth": FIFO_DEPTH, "fifo_bits": sum(w * d for w, d in flow.streams) + beat_bits * FIFO_DEPTH,
            "fifo_bram18": sum(s.bram18 for s in fifos), "fifo_lut": sum(s.luts for s in fifos),
            "fifos": len(fifos), "fifo_ff": sum(s.ff for s in fifos),
            "lutram": sum(s.lutram_luts + s.srl_luts for s in storage),
            "dsp": sum(u.dsps for u in us), "lut": round(lut + sum(s.luts for s in storage)),
            "ff": round(ff + sum(s.ff for s in storage)), "cycles": cycles, "slowest": slow})
    return rows


def check(rows: list[dict], part: Part) -> dict:
    """Totals against the part (weights spill to URAM where the part has it); the dataflow's rate."""
    bram = sum(r["weight_bram18"] + r["buffer_bram18"] + r["fifo_bram18"] for r in rows)
    uram = 0
    if bram > 2 * part.bram36 and part.uram:
        for r in sorted(rows, key=lambda r: -r["weight_bram18"]):
            if bram <= 2 * part.bram36:
                break
            bram -= r["weight_bram18"]
            uram += math.ceil(r["weight_bits"] / URAM_BITS)
    slow = max(rows, key=lambda r: r["cycles"])
    total = {k: sum(r[k] for r in rows) for k in ("dsp", "lut", "ff")}
    summary = {"part": part.name, "memory_bits": sum(r["weight_bits"] + r["buffer_bits"] + r["fifo_bits"] for r in rows),
               "bram18": bram, "bram18_available": 2 * part.bram36, "uram": uram, "uram_available": part.uram,
               "dsp": total["dsp"], "dsp_available": part.dsp, "lut": total["lut"], "lut_available": part.lut,
               "ff": total["ff"], "ff_available": part.ff, "fifo_bram18": sum(r["fifo_bram18"] for r in rows),
               "fifo_lut": sum(r["fifo_lut"] for r in rows), "lutram": sum(r["lutram"] for r in rows),
               "lutram_available": part.lutram,
               "cycles_per_frame": slow["cycles"], "bottleneck": slow["slowest"]}
    summary["fits"] = (bram <= 2 * part.bram36 and uram <= part.uram and total["dsp"] <= part.dsp
                       and total["lut"] <= part.lut and total["ff"] <= part.ff and summary["lutram"] <= part.lutram)
    return summary


def shrink(bud, summary: dict, part: Part):
    """The planner's budget less what the HLS design needs beyond the part (FIFOs, line-buffer banks
    and LUTRAM the RTL plan does not have), so that a re-plan leaves room for them."""
    over = {"lut": max(0, summary["lut"] - part.lut) + max(0, summary["lutram"] - part.lutram),
            "ff": max(0, summary["ff"] - part.ff), "dsp": max(0, summary["dsp"] - part.dsp),
            "bram36": max(0, summary["bram18"] - 2 * part.bram36) / 2}
    return dataclasses.replace(bud, **{k: type(getattr(bud, k))(max(0, getattr(bud, k) - v)) for k, v in over.items()})


def refuse(rows: list[dict], summary: dict, part: Part) -> None:
    if summary["fits"]:
        return
    big = sorted(rows, key=lambda r: -(r["weight_bram18"] + r["buffer_bram18"] + r["fifo_bram18"]))[:3]
    largest = ", ".join(f"{r['layer']} {r['weight_bram18'] + r['buffer_bram18'] + r['fifo_bram18']}" for r in big)
    raise UserError(
        f"the HLS design does not fit {part.name}: needs {summary['bram18']} BRAM18 (has {summary['bram18_available']}"
        + (f", {summary['uram']} URAM of {part.uram}" if part.uram else "")
        + f"), {summary['dsp']} DSP (has {part.dsp}), {summary['lut']} LUT (has {part.lut}); largest layers "
        f"(BRAM18): {largest}; use fewer weight bits (--weight-bits at training), a narrower model "
        "(width multiplier), a frame-rate target (--max-cycles) or a larger part (xczu7ev, xczu9eg)")
