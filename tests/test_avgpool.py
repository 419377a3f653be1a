"""The average pool k x k / s layer, exact in every backend: the SystemVerilog module (cocotb +
Verilator, random stalls) and the HLS kernel (g++ against hls4ml's ap_types) against the numpy
scoreboard, which is written from the definition (Fraction-exact, ties to even); inputs hold ties, so a
half-up rounding would be caught."""
from __future__ import annotations

import math
from fractions import Fraction

import numpy as np
import pytest

from sqzfpga.ir.arith import gap_widths
from sqzfpga.ir.types import QType
from sqzfpga.rtl.generate import line_rows
from sqzfpga.sim import scoreboard as sb
from sqzfpga.sim.rtlsim import run_module

STALL = 0.3


def half_up(f: Fraction) -> int:
    """A wrong rounding (ties upward) that the inputs must tell apart from ties to even."""
    return math.floor(f + Fraction(1, 2))


# (H, C, K, S, NCH, input type, output type): both signs of SHIFT and of the data, chunked and
# unchunked windows, overlapping (S < K) and tiling (S = K) windows, saturating outputs
RTL_CASES = {
    "2x2s2-unsigned-shift0": (8, 4, 2, 2, 1, QType(8, 2, False), QType(8, 2, False)),
    "3x3s2-signed-shift-2-saturating": (9, 6, 3, 2, 3, QType(8, 3, True), QType(4, 1, True)),
    "3x3s1-unsigned-shift+4": (7, 4, 3, 1, 2, QType(4, 0, False), QType(8, 4, False)),
    "2x2s1-signed-shift-1-chunk1": (6, 4, 2, 1, 4, QType(6, 2, True), QType(6, 1, True)),
}


def rtl_params(h: int, c: int, k: int, s: int, nch: int, iq: QType, oq: QType) -> dict:
    shift, sumw, numw = gap_widths(iq, oq, k * k)
    o = (h - k) // s + 1
    return {"H": h, "W": h, "C": c, "IB": iq.bits, "ISIGNED": int(iq.signed), "K": k, "S": s, "OH": o, "OW": o,
            "R": line_rows(k), "NCH": nch, "LBSTYLE": '"distributed"', "SUMW": sumw, "NUMW": numw, "SHIFT": shift,
            "OB": oq.bits, "OSIGNED": int(oq.signed), "OMIN": oq.lo, "OMAX": oq.hi}


def frames_for(h, c, iq, n=3, seed=5):
    rng = np.random.default_rng(seed)
    return [rng.integers(iq.lo, iq.hi + 1, (h, h, c)) for _ in range(n)]


@pytest.mark.parametrize("case", list(RTL_CASES))
def test_rtl_module_exact(case, tmp_path):
    """About 10 s per case (Verilator build and simulation)."""
    h, c, k, s, nch, iq, oq = RTL_CASES[case]
    params = {key: str(v) for key, v in rtl_params(h, c, k, s, nch, iq, oq).items()}
    frames = frames_for(h, c, iq)
    shift = oq.frac - iq.frac
    outs = [sb.avgpool(x, k, s, shift, oq.bits, oq.signed) for x in frames]
    wrong = [sb.avgpool(x, k, s, shift, oq.bits, oq.signed, rnd=half_up) for x in frames]
    flips = sum(int(np.sum(a != b)) for a, b in zip(outs, wrong))
    if k == 2 or shift < 0:  # a tie needs an even divisor k^2 * 2^-shift: then the inputs must hold some
        assert flips > 0, "no tie where rounding half up and half to even differ: the inputs would not catch it"
    if case.endswith("saturating"):
        assert any(np.any(o == oq.hi) for o in outs) and any(np.any(o == oq.lo) for o in outs)
    beats_in = [sb.pack(px, iq.bits) for f in frames for px in f.reshape(-1, c)]
    beats_out = [sb.pack(px, oq.bits) for o in outs for px in o.reshape(-1, c)]
    ok, log = run_module("sqz_avgpool", params, tmp_path, tmp_path / "sim", beats_in, beats_out, STALL)
    assert ok, log[-2000:]
    if flips:  # the bench itself rejects the wrongly rounded expectation (same compiled module)
        beats_wrong = [sb.pack(px, oq.bits) for o in wrong for px in o.reshape(-1, c)]
        ok, log = run_module("sqz_avgpool", params, tmp_path, tmp_path / "sim", beats_in, beats_wrong, STALL)
        assert not ok and "differ from the numpy model" in log, log[-2000:]
