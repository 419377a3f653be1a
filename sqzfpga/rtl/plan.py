"""Folding planner and cost model of the RTL dataflow.

Every conv-like unit (a conv, a Fire's squeeze, its fused expands, its bypass conv) issues one
step per cycle; a step multiplies PI input channels by PO output channels. An output pixel takes
NSTEP = IN_CHUNKS * sum over segments of NCO_s * KS_s^2 steps, so a unit needs max(out_pixels * NSTEP,
in_pixels * IN_CHUNKS) cycles per frame (issuing steps, or writing each input pixel's chunks into the line
buffer), and the pipeline's initiation interval is that of its slowest unit. That holds in the RTL
because no unit blocks its neighbours for longer than its own steps: every line buffer holds the next
window's rows while the current one computes (`rtl.rom.window_rows`: a frame ahead for a Dense layer's
whole-map window), so a bursty stage (a strided pool, a window that waits for its rows) neither stalls
a producer running at the bottleneck's rate nor starves itself (simulated within 5% of the plan on the
fuzz campaign's models, `benchmarks/fuzz.py`).

A folding is (PI, PO, DSP packing, LUT multipliers, weight ROM in BRAM or LUTs), and each has a cost
(`sqzfpga.rtl.cost`): DSP slices exactly as synthesis maps them (one per multiplier, one per pair of
output channels when packed, none for LUT multipliers), block RAM from the memories' shapes, LUT and
FF from a linear model calibrated against Yosys. The planner searches the achievable intervals for
the smallest one whose foldings fit the part's budget (cheapest first, then a greedy repair that
trades the scarce resource for the plentiful ones), or, with a frame-rate target, takes the
cheapest foldings that meet it.
"""
from __future__ import annotations

import dataclasses
import math
from dataclasses import dataclass

import numpy as np

from sqzfpga.driver.layout import STREAM_BITS
from sqzfpga.errors import UserError
from sqzfpga.rtl.cost import estimate
from sqzfpga.rtl.unit import Unit


class Unreachable(UserError):
    """A cycles-per-frame target beyond the best plan; carries that plan's summary."""

    def __init__(self, best: dict):
        self.best = best
        super().__init__(f"the best plan takes {best['cycles_per_frame']} cycles per frame, limited by "
                         f"{best['bottleneck']}")


@dataclass(frozen=True)
class Budget:
    """What the planner may spend: resources of a part times a fill factor, and the DSP's wide port."""
    dsp: int
    lut: int
    ff: int
    bram36: float
    dsp_port: int = 25            # DSP48E1: 25 x 18; DSP48E2: 27 x 18
    name: str = "custom"

    def limits(self) -> dict:
        return {"dsp": self.dsp, "lut": self.lut, "ff": self.ff, "bram36": self.bram36}


FILL = 0.9  # the planner leaves 10% of every resource for routing headroom and what it does not model


def budget(part, fill: float = FILL) -> Budget:
    return Budget(dsp=int(part.dsp * fill), lut=int(part.lut * fill), ff=int(part.ff * fill),
                  bram36=part.bram36 * fill + part.uram * 8 * fill, dsp_port=part.family.dsp_port,
                  name=part.name)


def _divisors(n: int) -> list[int]:
    return [d for d in range(1, n + 1) if n % d == 0]


def can_pack(u: Unit, pi: int, po: int, port: int) -> bool:
    """Two output channels per DSP: PO even, and the packed coefficient fits the wide port."""
    return u.kind == "conv" and po % 2 == 0 and u.ibits + 1 <= 18 and \
        u.wbits + u.ibits + math.ceil(math.log2(pi)) + u.wbits + 1 <= port


SHALLOW = 512  # a weight ROM at most this deep may go to LUTs (block RAM would be mostly empty)
LUTMUL_BITS = 4  # weights this narrow may be multiplied in LUTs (a shift-and-add of WB - 1 adders)


def options(u: Unit, port: int = 25) -> list[tuple[int, int, int, str, int]]:
    """Every (PI, PO, PACK, ROM, LUTMUL) this unit can take; PO must divide each segment's output
    channels. A shallow weight ROM may sit in LUTs instead of block RAM, and low-bit multipliers may
    be LUTs instead of DSP slices: the planner trades LUTs for BRAM and DSPs."""
    if u.kind == "pool":  # no multipliers: narrower chunks only cost cycles (and pack BRAM better)
        return [(pi, 1, 1, "", 0) for pi in _divisors(u.cin)]
    if u.kind != "conv":  # the input adapter keeps its PI: bytes per input beat (plan_stream)
        return [(u.pi if u.kind == "adapter" else 1, 1, 1, "", 0)]
    g = 0
    for c, _ in u.segments:
        g = np.gcd(g, c)
    out = []
    for pi in _divisors(u.cin):
        for po in _divisors(int(g)):
            mults = [(1, 0), (2, 0)] if can_pack(u, pi, po, port) else [(1, 0)]
            if u.wbits <= LUTMUL_BITS:
                mults.append((1, 1))
            for pack, lut in mults:
                roms = ["", "distributed"] if _set(u, (pi, po, pack, "", lut)).nstep <= SHALLOW else [""]
                out += [(pi, po, pack, rom, lut) for rom in roms]
    return out


def _set(u: Unit, opt) -> Unit:
    u.pi, u.po, u.pack, u.rom, u.lutmul = opt
    return u


def _table(units: list[Unit], port: int) -> dict:
    """Per unit: every folding with its cycles per frame and its cost (computed once)."""
    return {u.name: [(o, _set(u, o).cycles, estimate(u)) for o in options(u, port)] for u in units}


def _pareto(rows: list, keys) -> list:
    """The rows no other row beats or equals on every resource (the only ones worth choosing)."""
    out = []
    for r in sorted(rows, key=lambda r: [r[2][k] for k in keys]):
        if not any(all(o[2][k] <= r[2][k] for k in keys) for o in out):
            out.append(r)
    return out


def _fit(units, table, target, limits):
    """Foldings meeting `target` cycles per frame that fit `limits`, if a greedy repair finds them.

    Every unit starts from its cheapest folding (resources weighted by their share of the budget);
    while a resource is over its limit, the one change of one unit's folding that frees most of
    the over-budget resources per share of the remaining slack it consumes is made (so DSPs, LUTs
    and BRAM are traded where they are scarce)."""
    keys = list(limits)
    cands = []
    for u in units:
        rows = _pareto([r for r in table[u.name] if r[1] <= target], keys)
        if not rows:
            return None, False
        cands.append(rows)
    cur = [min(rows, key=lambda r: sum(r[2][k] / limits[k] for k in keys)) for rows in cands]
    for _ in range(4 * len(units) + 64):
        total = {k: sum(c[2][k] for c in cur) for k in keys}
        over = [k for k in keys if total[k] > limits[k]]
        if not over:
            return cur, True
        best, best_ratio = None, 0.0
        for i, rows in enumerate(cands):
            for r in rows:
                d = {k: r[2][k] - cur[i][2][k] for k in keys}
                gain = sum(-d[k] / limits[k] for k in over)
                if gain <= 0:
                    continue
                pain = sum(max(0.0, d[k]) / max(limits[k] - total[k], 1e-9) for k in keys if k not in over)
                ratio = gain / (pain + 1e-6)
                if ratio > best_ratio:
                    best, best_ratio = (i, r), ratio
        if best is None:
            return cur, False
        cur[best[0]] = best[1]
    return cur, False


def plan(units: list[Unit], bud: Budget, max_cycles: int | None = None) -> dict:
    """Fold every unit. Without `max_cycles`: the smallest initiation interval whose foldings fit
    `bud` (binary search over every unit's achievable cycle counts). With it: the cheapest foldings
    that reach it, or Unreachable carrying the best plan."""
    limits = bud.limits()
    table = _table(units, bud.dsp_port)
    targets = sorted({cyc for rows in table.values() for _, cyc, _ in rows})
    best, lo, hi = None, 0, len(targets) - 1
    while lo <= hi:
        mid = (lo + hi) // 2
        choice, ok = _fit(units, table, targets[mid], limits)
        if ok:
            best, hi = (targets[mid], choice), mid - 1
        else:
            lo = mid + 1
    if best is None:
        raise UserError(f"the design does not fit {bud.name}: {_shortfall(units, table, targets, limits)}; "
                        "use a larger part or fewer weight bits")
    if max_cycles is not None:
        if best[0] > max_cycles:
            for u, (opt, _, _) in zip(units, best[1]):
                _set(u, opt)
            raise Unreachable(summary(units, bud))
        best = (max_cycles, _fit(units, table, max_cycles, limits)[0])
    for u, (opt, _, _) in zip(units, best[1]):
        _set(u, opt)
    return summary(units, bud)


def _shortfall(units, table, targets, limits) -> str:
    """Why nothing fits: the weight memory against what block RAM and LUT ROMs can hold, and what
    the closest plan (the slowest interval, after repair) still needs beyond the budget."""
    bits = sum(u.weights() * u.wbits for u in units)
    text = (f"its weights take {bits / 1e6:.2f} Mbit; {limits['bram36']:.0f} BRAM36 hold "
            f"{limits['bram36'] * 36864 / 1e6:.2f} Mbit and {limits['lut']:.0f} LUTs at most "
            f"{limits['lut'] * 64 / 1e6:.2f} Mbit more as ROM")
    choice, _ = _fit(units, table, targets[-1], limits)
    if choice:
        total = {k: sum(c[2][k] for c in choice) for k in limits}
        text += "; the closest plan needs " + ", ".join(f"{k} {total[k]:.0f} of {limits[k]:.0f}" for k in limits
                                                         if total[k] > limits[k])
    return text


def summary(units: list[Unit], bud: Budget | None = None) -> dict:
    slow = max(units, key=lambda u: u.cycles)
    costs = [estimate(u) for u in units]
    total = {k: round(sum(c[k] for c in costs), 1) for k in ("dsp", "lut", "ff", "bram36")}
    out = {"cycles_per_frame": slow.cycles, "bottleneck": slow.name, "lanes": sum(u.lanes for u in units),
           "dsp": total["dsp"], "estimate": total, "macs_per_frame": sum(u.macs() for u in units),
           "units": [{**dataclasses.asdict(u), "nstep": u.nstep, "cycles": u.cycles, "lanes": u.lanes,
                      "dsp": c["dsp"], "lut": round(c["lut"]), "ff": round(c["ff"]), "bram36": c["bram36"]}
                     for u, c in zip(units, costs)]}
    if bud is not None:
        lim = bud.limits()
        use = {k: total[k] / lim[k] for k in lim}
        out.update(budget=lim, fill=FILL, limiting_resource=max(use, key=use.get))
    return out


def plan_stream(units: list[Unit], bud: Budget, max_cycles: int | None = None,
                stream_bits: int | None = None) -> tuple[dict, int]:
    """plan() with the input stream's width: `stream_bits`, else the planner's choice, the narrowest of
    STREAM_BITS at which the input adapter (units[0], PI bytes per beat) takes no more cycles per frame
    than the plan's interval (8 where the input does not limit the rate). The plan is made with the
    adapter at the widest width (or the one asked), so that an input-bound design is folded for the
    rate the wide stream allows; the adapter takes at most one pixel per cycle, so C-byte pixels gain
    nothing beyond C bytes per beat. Returns (the plan's summary, the width)."""
    adapter = units[0]
    adapter.pi = (stream_bits or STREAM_BITS[-1]) // 8
    p = plan(units, bud, max_cycles)
    if stream_bits is None:
        interval = max([u.cycles for u in units[1:]] + [max_cycles or 0])
        floor = adapter.cycles  # at the widest width
        for stream_bits in STREAM_BITS:
            adapter.pi = stream_bits // 8
            if adapter.cycles <= max(interval, floor):
                break
        p = summary(units, bud)
    return p, stream_bits
