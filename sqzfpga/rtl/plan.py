"""Folding planner and cost model of the RTL dataflow.

Every conv-like unit (a conv, a Fire's squeeze, its fused expands, its bypass conv) issues one
step per cycle; a step multiplies PI input channels by PO output channels. An output pixel takes
NSTEP = NCI * sum over segments of NCO_s * KS_s^2 steps, so a unit needs max(out_pixels * NSTEP,
in_pixels * NCI) cycles per frame (issuing steps, or writing each input pixel's chunks into the line
buffer), and the pipeline's initiation interval is that of its slowest unit.

Each folding also has a cost (`sqzfpga.rtl.cost`): DSP slices exactly as synthesis maps them (one
per multiplier, or one per pair of output channels when DSP packing applies), block RAM from the
memories' shapes, LUT and FF from a linear model calibrated against Yosys. The planner searches the
achievable intervals for the smallest one whose cheapest foldings fit the part's budget, or, with a
frame-rate target, takes the cheapest foldings that meet it.
"""
from __future__ import annotations

import dataclasses
import math
from dataclasses import dataclass, field

import numpy as np

from sqzfpga.errors import UserError


@dataclass
class Unit:
    """One scheduler of the dataflow and its share of the hardware."""
    name: str
    kind: str                     # conv, pool, gap, adapter
    in_pixels: int
    out_pixels: int
    cin: int = 1
    segments: list = field(default_factory=list)  # [(cout, ks)] of a conv unit
    taps: int = 1                 # pool: K*K
    extra: int = 0                # fixed cycles per frame (GAP's divider)
    row_px: int = 1               # line-buffer row length (1 for a 1x1 conv: one column of pixels)
    rows: int = 2                 # line-buffer rows
    wbits: int = 8                # weight bits (conv)
    ibits: int = 8                # input activation bits
    obits: int = 8                # output activation bits
    pi: int = 1
    po: int = 1
    pack: int = 1                 # output channels per DSP slice (2: DSP packing)

    @property
    def lanes(self) -> int:
        """Multipliers (products per cycle)."""
        return self.pi * self.po if self.kind == "conv" else 0

    @property
    def dsps(self) -> int:
        return self.lanes // self.pack

    @property
    def pack_shift(self) -> int:
        """Bit offset of the high channel in a packed coefficient (see sqz_mac)."""
        return self.wbits + self.ibits + math.ceil(math.log2(self.pi))

    @property
    def chunks(self) -> int:
        """Chunks per buffered pixel (PI channels each; a pool's chunk is PI channels too)."""
        return self.cin // self.pi

    @property
    def cout(self) -> int:
        return sum(c for c, _ in self.segments) if self.kind == "conv" else self.cin

    @property
    def nstep(self) -> int:
        if self.kind == "conv":
            return self.chunks * sum((c // self.po) * ks * ks for c, ks in self.segments)
        if self.kind == "pool":
            return self.taps * self.chunks
        return 1

    @property
    def cycles(self) -> int:
        """Cycles per frame in steady state (this unit alone, never starved or stalled)."""
        if self.kind in ("conv", "pool"):
            return max(self.out_pixels * self.nstep, self.in_pixels * self.chunks)
        return self.in_pixels + self.extra

    def macs(self) -> int:
        return self.out_pixels * self.cin * sum(c * ks * ks for c, ks in self.segments) if self.kind == "conv" else 0

    def weights(self) -> int:
        return self.cin * sum(c * ks * ks for c, ks in self.segments) if self.kind == "conv" else 0


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
                  bram36=part.bram36 * fill + part.uram * 8 * fill, dsp_port=25 if part.device.startswith("xc7") else 27,
                  name=part.name)


def _divisors(n: int) -> list[int]:
    return [d for d in range(1, n + 1) if n % d == 0]


def can_pack(u: Unit, pi: int, po: int, port: int) -> bool:
    """Two output channels per DSP: PO even, and the packed coefficient fits the wide port."""
    return u.kind == "conv" and po % 2 == 0 and u.ibits + 1 <= 18 and \
        u.wbits + u.ibits + math.ceil(math.log2(pi)) + u.wbits + 1 <= port


def options(u: Unit, port: int = 25) -> list[tuple[int, int, int]]:
    """Every (PI, PO, PACK) this unit can take; PO must divide each segment's output channels."""
    if u.kind == "pool":  # no multipliers: narrower chunks only cost cycles (and pack BRAM better)
        return [(pi, 1, 1) for pi in _divisors(u.cin)]
    if u.kind != "conv":
        return [(1, 1, 1)]
    g = 0
    for c, _ in u.segments:
        g = np.gcd(g, c)
    out = []
    for pi in _divisors(u.cin):
        for po in _divisors(int(g)):
            out.append((pi, po, 1))
            if can_pack(u, pi, po, port):
                out.append((pi, po, 2))
    return out


def _set(u: Unit, opt) -> Unit:
    u.pi, u.po, u.pack = opt
    return u


def _score(cost: dict, limits: dict) -> float:
    """One number to compare foldings by: the sum of the fractions of the budget they take."""
    return sum(cost[k] / max(limits[k], 1e-9) for k in limits)


def _cheapest(u: Unit, opts, target: int, limits: dict):
    """The folding meeting `target` cycles per frame that takes the least of the budget."""
    from sqzfpga.rtl.cost import estimate

    best = None
    for opt in opts:
        if _set(u, opt).cycles <= target:
            c = estimate(u)
            s = _score(c, limits)
            if best is None or s < best[0]:
                best = (s, opt, c)
    return best


def _fit(units, opts, target, limits):
    """Cheapest foldings for `target`, and whether their total fits `limits`."""
    choice = [_cheapest(u, opts[u.name], target, limits) for u in units]
    if not all(choice):
        return choice, False
    total = {k: sum(c[2][k] for c in choice) for k in limits}
    return choice, all(total[k] <= limits[k] for k in limits)


def plan(units: list[Unit], bud: Budget, max_cycles: int | None = None) -> dict:
    """Fold every unit. Without `max_cycles`: the smallest initiation interval whose cheapest
    foldings fit `bud` (binary search over every unit's achievable cycle counts). With it: the
    cheapest foldings that reach it, or a UserError naming the best interval and the unit that
    limits it."""
    limits = bud.limits()
    opts = {u.name: options(u, bud.dsp_port) for u in units}
    targets = sorted({_set(u, o).cycles for u in units for o in opts[u.name]})
    best, lo, hi = None, 0, len(targets) - 1
    while lo <= hi:
        mid = (lo + hi) // 2
        choice, ok = _fit(units, opts, targets[mid], limits)
        if ok:
            best, hi = (targets[mid], choice), mid - 1
        else:
            lo = mid + 1
    if best is None:
        raise UserError(f"the design does not fit {bud.name} even with the least hardware per layer "
                        f"({_shortfall(units, opts, targets[-1], limits)}); use a larger part or fewer bits")
    if max_cycles is not None:
        if best[0] > max_cycles:
            for u, (_, opt, _) in zip(units, best[1]):
                _set(u, opt)
            raise Unreachable(summary(units, bud))
        best = (max_cycles, _fit(units, opts, max_cycles, limits)[0])
    for u, (_, opt, _) in zip(units, best[1]):
        _set(u, opt)
    return summary(units, bud)


def _shortfall(units, opts, target, limits) -> str:
    choice, _ = _fit(units, opts, target, limits)
    total = {k: sum(c[2][k] for c in choice if c) for k in limits}
    return ", ".join(f"{k} {total[k]:.0f} of {limits[k]:.0f}" for k in limits if total[k] > limits[k])


def summary(units: list[Unit], bud: Budget | None = None) -> dict:
    from sqzfpga.rtl.cost import estimate

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
