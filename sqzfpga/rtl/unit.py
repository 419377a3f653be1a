"""A unit of the RTL dataflow (one scheduler and its folding): the type the planner folds and the cost
model prices, kept apart from both so that each imports it and neither imports the other for it."""
from __future__ import annotations

import math
from dataclasses import dataclass, field


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
    rom: str = ""                 # weight ROM: "distributed" (LUTs) overrides the size rule of cost.style
    lutmul: int = 0               # 1: multipliers built from LUTs (shift-and-add), no DSP slices

    @property
    def lanes(self) -> int:
        """Multipliers (products per cycle)."""
        return self.pi * self.po if self.kind == "conv" else 0

    @property
    def dsps(self) -> int:
        return 0 if self.lutmul else self.lanes // self.pack

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
        """Cycles per frame in steady state (this unit alone, never starved or stalled). A window takes a
        pixel of several chunks in one cycle and writes it one chunk per cycle after (sqz_window): a cycle
        more per pixel. The global average pool's divider works on a frame's sums while the next frame's
        add up (sqz_gap), its result's handshake two cycles more."""
        if self.kind in ("conv", "pool"):
            return max(self.out_pixels * self.nstep, self.in_pixels * (self.chunks + (self.chunks > 1)))
        if self.kind == "adapter":  # in_pixels bytes in beats of PI bytes, at most one pixel out per cycle
            return max(-(-self.in_pixels // self.pi), self.out_pixels) + self.extra
        if self.kind == "gap":
            return max(self.in_pixels, self.extra + 2)
        return self.in_pixels + self.extra

    def macs(self) -> int:
        return self.out_pixels * self.cin * sum(c * ks * ks for c, ks in self.segments) if self.kind == "conv" else 0

    def weights(self) -> int:
        return self.cin * sum(c * ks * ks for c, ks in self.segments) if self.kind == "conv" else 0
