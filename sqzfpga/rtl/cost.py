"""Resource cost of one folded unit of the RTL dataflow: DSP, block RAM, LUT, FF.

DSP slices are counted as synthesis maps them (one per multiplier, one per packed pair). Block RAM
comes from the shapes of the unit's memories (line buffer, weight ROM) and the BRAM18 aspect ratios,
with the same block-or-LUT rule the generator applies. LUT and FF are linear in a few structural
features (held pixel bits, adder-tree bits, accumulator bits, output bits, one per unit), with
coefficients fitted by least squares to Yosys's per-stage counts of generated designs
(`calibrate`, stored in cost.json; `benchmarks/throughput.py --calibrate` refits them).
"""
from __future__ import annotations

import json
import math
from pathlib import Path

import numpy as np

from sqzfpga.parts import BRAM18_ASPECTS
from sqzfpga.rtl.unit import Unit

COEFFS = Path(__file__).with_name("cost.json")
FEATURES = ("held_bits", "tree_bits", "acc_bits", "out_bits", "units", "lutmul_bits")
BLOCK_BITS = 4096  # memories above this many bits (and deeper than a LUT RAM's 64 words) go to block RAM


def style(bits: int, depth: int = 1 << 30) -> str:
    """Block RAM for memories above BLOCK_BITS that are deeper than 64 words (a wide, shallow memory
    would waste most of each BRAM; 64 words is what one LUT RAM primitive holds), LUT RAM otherwise."""
    return "block" if bits > BLOCK_BITS and depth > 64 else "distributed"


def accum_bits(u: Unit) -> int:
    """Accumulator width estimate (the generator sizes it exactly from the weights)."""
    taps = u.cin * max((ks * ks for _, ks in u.segments), default=1)
    return u.wbits + u.ibits + 2 + math.ceil(math.log2(taps))


def rom_width(u: Unit) -> int:
    """Bits of one weight-ROM word: PO/PACK entries of PI weights (a packed pair takes 2 WB + 1)."""
    return u.po // u.pack * u.pi * (u.pack * u.wbits + u.pack - 1)


def rom_style(u: Unit) -> str:
    return u.rom or style(rom_width(u) * u.nstep, u.nstep)


def memories(u: Unit) -> list[tuple[int, int, str]]:
    """(width, depth, style) of the unit's line buffer and weight ROM (an input table: its block-RAM ROM
    of 256 words per channel, two channels per BRAM18 on its two ports, as Yosys maps sqz_table.sv)."""
    if u.kind == "table":
        return [(u.obits, 512, "block")] * math.ceil(u.cin / 2)
    if u.kind not in ("conv", "pool"):
        return []
    w, d = u.pi * u.ibits, u.rows * u.row_px * u.chunks
    mems = [(w, d, style(w * d, d))]
    if u.kind == "conv":
        mems.append((rom_width(u), u.nstep, rom_style(u)))
    return mems


def memory_cost(width: int, depth: int, kind: str) -> tuple[float, float]:
    """(BRAM36, LUTs) of one memory."""
    if kind == "block":
        return min(math.ceil(width / w) * math.ceil(depth / d) for w, d in BRAM18_ASPECTS) / 2, 0.0
    return 0.0, width * math.ceil(depth / 64) * 4 / 3  # RAM64M: 4 LUTs per 64 x 3 bits


def features(u: Unit) -> dict:
    f = dict.fromkeys(FEATURES, 0.0)
    f["units"] = 1.0
    if u.kind in ("conv", "pool"):
        f["held_bits"] = u.cin * u.ibits if u.chunks > 1 else 0
        f["out_bits"] = u.cout * u.obits
    if u.kind == "table":  # the output register
        f["out_bits"] = u.cin * u.obits
    if u.kind == "pool":  # PI comparators and the running maximum
        f["tree_bits"] = 2 * u.pi * u.ibits
    if u.kind == "conv":
        f["tree_bits"] = u.lanes * (u.wbits + u.ibits + 2 + math.ceil(math.log2(u.pi)))
        f["acc_bits"] = u.po * accum_bits(u)
        if u.lutmul:  # WB - 1 shifted adds of an (IB + WB)-bit product per multiplier
            f["lutmul_bits"] = u.lanes * (u.wbits - 1) * (u.ibits + u.wbits)
    return f


def coefficients() -> dict:
    return json.loads(COEFFS.read_text())


_COEFFS: dict | None = None


def estimate(u: Unit) -> dict:
    """{dsp, lut, ff, bram36} of `u` with its current folding."""
    global _COEFFS
    if _COEFFS is None:
        _COEFFS = coefficients()
    f = features(u)
    bram, lut_mem = 0.0, 0.0
    for w, d, k in memories(u):
        b, l = memory_cost(w, d, k)
        bram, lut_mem = bram + b, lut_mem + l
    lut = sum(_COEFFS["lut"][k] * f[k] for k in FEATURES) + lut_mem
    ff = sum(_COEFFS["ff"][k] * f[k] for k in FEATURES)
    return {"dsp": u.dsps, "lut": lut, "ff": ff, "bram36": bram}


def _nnls(a: np.ndarray, b: np.ndarray, prior: np.ndarray) -> np.ndarray:
    """Least squares with non-negative coefficients (drop the most negative one and refit); a
    feature absent from every row keeps its prior coefficient."""
    absent = ~a.any(axis=0)
    b = b - a[:, absent] @ prior[absent]
    keep = [i for i in range(a.shape[1]) if not absent[i]]
    while True:
        x = np.where(absent, prior, 0.0)
        x[keep] = np.linalg.lstsq(a[:, keep], b, rcond=None)[0]
        if (x >= 0).all():
            return x
        keep.remove(int(np.argmin(x)))


def calibrate(rtl_dirs: list[Path]) -> dict:
    """Fit the LUT and FF coefficients to Yosys's per-stage counts (rtl/synth.json beside rtl.json)
    of generated designs; write cost.json and return it with the fit's relative error per design."""
    rows, luts, ffs, designs = [], [], [], []
    for d in rtl_dirs:
        manifest = json.loads((d / "rtl.json").read_text())
        synth = json.loads((d / "synth.json").read_text())["stages"]
        units = [Unit(**{k: v for k, v in u.items() if k in Unit.__dataclass_fields__})
                 for u in manifest["plan"]["units"]]
        for stage in manifest["stages"]:
            mine = [u for u in units if _stage_of(u.name, manifest) == stage["name"]]
            f = {k: sum(features(u)[k] for u in mine) for k in FEATURES}
            mem = sum(memory_cost(*m)[1] for u in mine for m in memories(u))
            rows.append([f[k] for k in FEATURES])
            luts.append(synth[stage["name"]]["lut"] - mem)
            ffs.append(synth[stage["name"]]["ff"])
            designs.append(str(d))
    a = np.array(rows, dtype=float)
    old = coefficients()
    prior = {k: np.array([old[k].get(f, 0.0) for f in FEATURES]) for k in ("lut", "ff")}
    out = {"lut": dict(zip(FEATURES, _nnls(a, np.array(luts), prior["lut"]).round(4).tolist())),
           "ff": dict(zip(FEATURES, _nnls(a, np.array(ffs), prior["ff"]).round(4).tolist())),
           "calibrated_on": sorted({Path(x).parent.name + "/" + Path(x).name for x in designs}), "stages": len(rows)}
    COEFFS.write_text(json.dumps(out, indent=1) + "\n")
    global _COEFFS
    _COEFFS = None
    return out


def _stage_of(unit_name: str, manifest: dict) -> str:
    if unit_name == "input":
        return "input_adapter"
    return unit_name.split(".")[0]
