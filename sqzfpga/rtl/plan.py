"""Folding plan and analytical cycle model of the RTL dataflow.

Every conv-like unit (a conv, a Fire's squeeze, its fused expands, its bypass conv) issues one
step per cycle; a step multiplies PI input channels by PO output channels. An output pixel takes
NSTEP = NCI * sum over segments of NCO_s * KS_s^2 steps, so a unit needs max(out_pixels * NSTEP,
in_pixels) cycles per frame, and the pipeline's initiation interval is that of its slowest unit.
The planner picks the smallest interval whose cheapest folding fits the lane (multiplier) budget.
"""
from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np


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
    pi: int = 1
    po: int = 1

    @property
    def lanes(self) -> int:
        return self.pi * self.po if self.kind == "conv" else 0

    @property
    def chunks(self) -> int:
        """Chunks per buffered pixel (PI channels each; a pool's chunk is PI channels too)."""
        return self.cin // self.pi

    @property
    def nstep(self) -> int:
        if self.kind == "conv":
            return self.chunks * sum((c // self.po) * ks * ks for c, ks in self.segments)
        if self.kind == "pool":
            return self.taps * self.chunks
        return 1

    @property
    def cycles(self) -> int:
        """Cycles per frame in steady state (this unit alone, never starved or stalled): issuing the
        steps, or writing each input pixel's chunks into the line buffer, whichever is longer."""
        if self.kind in ("conv", "pool"):
            return max(self.out_pixels * self.nstep, self.in_pixels * self.chunks)
        return self.in_pixels + self.extra

    def macs(self) -> int:
        return self.out_pixels * self.cin * sum(c * ks * ks for c, ks in self.segments) if self.kind == "conv" else 0


def _divisors(n: int) -> list[int]:
    return [d for d in range(1, n + 1) if n % d == 0]


def options(u: Unit) -> list[tuple[int, int, int]]:
    """Every (lanes, PI, PO) this unit can take; PO must divide each segment's output channels."""
    if u.kind == "pool":  # no multipliers: narrower chunks only cost cycles (and pack BRAM better)
        return [(0, pi, 1) for pi in _divisors(u.cin)]
    if u.kind != "conv":
        return [(0, 1, 1)]
    g = 0
    for c, _ in u.segments:
        g = np.gcd(g, c)
    return sorted((pi * po, pi, po) for pi in _divisors(u.cin) for po in _divisors(int(g)))


def _cheapest(u: Unit, opts, target: int):
    """Fewest lanes meeting `target` cycles per frame (PI first: it keeps the weight ROM narrow per lane)."""
    for lanes, pi, po in opts:
        u.pi, u.po = pi, po
        if u.cycles <= target:
            return lanes, pi, po
    return None


def plan(units: list[Unit], lanes: int) -> dict:
    """Balance the dataflow: the smallest initiation interval whose cheapest folding fits `lanes`
    multipliers (binary search over every unit's achievable cycle counts)."""
    opts = {u.name: options(u) for u in units}
    targets = set()
    for u in units:
        for _, u.pi, u.po in opts[u.name]:
            targets.add(u.cycles)
    targets = sorted(targets)
    best = None
    lo, hi = 0, len(targets) - 1
    while lo <= hi:
        mid = (lo + hi) // 2
        choice = [_cheapest(u, opts[u.name], targets[mid]) for u in units]
        if all(choice) and sum(c[0] for c in choice) <= lanes:
            best, hi = choice, mid - 1
        else:
            lo = mid + 1
    if best is None:  # not even one lane each fits: take the smallest folding
        best = [opts[u.name][0] for u in units]
    for u, (_, pi, po) in zip(units, best):
        u.pi, u.po = pi, po
    return summary(units, lanes)


def summary(units: list[Unit], lanes: int) -> dict:
    slow = max(units, key=lambda u: u.cycles)
    return {"cycles_per_frame": slow.cycles, "bottleneck": slow.name, "lanes": sum(u.lanes for u in units),
            "lane_budget": lanes, "macs_per_frame": sum(u.macs() for u in units),
            "units": [{"name": u.name, "kind": u.kind, "pi": u.pi, "po": u.po, "nstep": u.nstep,
                       "cycles": u.cycles, "lanes": u.lanes} for u in units]}
