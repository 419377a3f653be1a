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

from sqzfpga.hls.fit import bram18
from sqzfpga.rtl.plan import Unit

COEFFS = Path(__file__).with_name("cost.json")
FEATURES = ("held_bits", "tree_bits", "acc_bits", "out_bits", "units")
BLOCK_BITS = 4096  # memories above this many bits (and at least 64 deep) go to block RAM


def style(bits: int, depth: int = 1 << 30) -> str:
    """Block RAM for memories above BLOCK_BITS that are deep enough to fill one (a wide, shallow
    memory would waste most of each BRAM), LUT RAM otherwise."""
    return "block" if bits > BLOCK_BITS and depth >= 64 else "distributed"


def accum_bits(u: Unit) -> int:
    """Accumulator width estimate (the generator sizes it exactly from the weights)."""
    taps = u.cin * max((ks * ks for _, ks in u.segments), default=1)
    return u.wbits + u.ibits + 2 + math.ceil(math.log2(taps))


def memories(u: Unit) -> list[tuple[int, int]]:
    """(width, depth) of the unit's line buffer and weight ROM."""
    if u.kind not in ("conv", "pool"):
        return []
    mems = [(u.pi * u.ibits, u.rows * u.row_px * u.chunks)]
    if u.kind == "conv":
        mems.append((u.po // u.pack * u.pi * (u.pack * u.wbits + u.pack - 1), u.nstep))
    return mems


def memory_cost(width: int, depth: int) -> tuple[float, float]:
    """(BRAM36, LUTs) of one memory."""
    if style(width * depth, depth) == "block":
        blocks = bram18(width, depth)
        if blocks:
            return blocks / 2, 0.0
    return 0.0, width * math.ceil(depth / 64) * 4 / 3  # RAM64M: 4 LUTs per 64 x 3 bits


def features(u: Unit) -> dict:
    f = dict.fromkeys(FEATURES, 0.0)
    f["units"] = 1.0
    if u.kind in ("conv", "pool"):
        f["held_bits"] = u.cin * u.ibits if u.chunks > 1 else 0
        f["out_bits"] = u.cout * u.obits
    if u.kind == "pool":  # PI comparators and the running maximum
        f["tree_bits"] = 2 * u.pi * u.ibits
    if u.kind == "conv":
        f["tree_bits"] = u.lanes * (u.wbits + u.ibits + 2 + math.ceil(math.log2(u.pi)))
        f["acc_bits"] = u.po * accum_bits(u)
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
    for w, d in memories(u):
        b, l = memory_cost(w, d)
        bram, lut_mem = bram + b, lut_mem + l
    lut = sum(_COEFFS["lut"][k] * f[k] for k in FEATURES) + lut_mem
    ff = sum(_COEFFS["ff"][k] * f[k] for k in FEATURES)
    return {"dsp": u.dsps, "lut": lut, "ff": ff, "bram36": bram}


def _nnls(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    """Least squares with non-negative coefficients (drop the most negative one and refit)."""
    keep = list(range(a.shape[1]))
    while True:
        x = np.zeros(a.shape[1])
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
            mem = sum(memory_cost(w, dd)[1] for u in mine for w, dd in memories(u))
            rows.append([f[k] for k in FEATURES])
            luts.append(synth[stage["name"]]["lut"] - mem)
            ffs.append(synth[stage["name"]]["ff"])
            designs.append(str(d))
    a = np.array(rows, dtype=float)
    out = {"lut": dict(zip(FEATURES, _nnls(a, np.array(luts)).round(4).tolist())),
           "ff": dict(zip(FEATURES, _nnls(a, np.array(ffs)).round(4).tolist())),
           "calibrated_on": sorted({Path(x).parent.name + "/" + Path(x).name for x in designs}), "stages": len(rows)}
    COEFFS.write_text(json.dumps(out, indent=1) + "\n")
    global _COEFFS
    _COEFFS = None
    return out


def _stage_of(unit_name: str, manifest: dict) -> str:
    if unit_name == "input":
        return "input_adapter"
    return unit_name.split(".")[0]
