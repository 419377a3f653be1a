"""cocotb AXI-Stream source and sink with optional random stalls (valid and ready), cycle-stamped.

Handshake rule: a beat moves on the rising edge where valid and ready were both 1; we sample ready
and valid in the ReadOnly phase just before that edge. Long waits sleep on the signal's edge instead
of polling every cycle, so a whole-network simulation costs Python time per beat, not per cycle.
"""
from __future__ import annotations

import random

from cocotb.triggers import ReadOnly, RisingEdge
from cocotb.utils import get_sim_time


async def send(clk, valid, ready, data, beats, stall: float = 0.0, rng: random.Random | None = None,
               stamps: list | None = None, last=None, frame: int = 0):
    """Drive `beats` (ints); with `stall` > 0, hold valid low for random cycles between beats.
    `stamps` gets the sim time (ns) of each accepted beat whose index is a multiple of `frame`."""
    rng = rng or random.Random(0)
    for i, beat in enumerate(beats):
        while stall and rng.random() < stall:
            valid.value = 0
            await RisingEdge(clk)
        valid.value = 1
        data.value = int(beat)
        if last is not None:
            last.value = int(frame > 0 and (i + 1) % frame == 0)
        while True:
            await ReadOnly()
            if ready.value == 1:
                if stamps is not None and frame and i % frame == 0:
                    stamps.append(get_sim_time("ns"))
                await RisingEdge(clk)
                break
            await RisingEdge(ready)
    valid.value = 0


async def receive(clk, valid, ready, data, n: int, stall: float = 0.0, rng: random.Random | None = None,
                  stamps: list | None = None, last=None, signed_bits: int = 0, progress: str | None = None):
    """Take `n` beats; with `stall` > 0, drop ready on random cycles. Returns the values (ints);
    `stamps` gets the sim time (ns) of every beat flagged last (or of every beat without `last`);
    `progress` names a file that gets one line per such beat (for a progress bar outside)."""
    rng = rng or random.Random(1)
    out = []
    while len(out) < n:
        r = 0 if (stall and rng.random() < stall) else 1
        ready.value = r
        await ReadOnly()
        if valid.value == 1 and r:
            v = int(data.value)
            if signed_bits and v >= 1 << (signed_bits - 1):
                v -= 1 << signed_bits
            out.append(v)
            if stamps is not None and (last is None or last.value == 1):
                stamps.append(get_sim_time("ns"))
                if progress:
                    with open(progress, "a") as f:
                        f.write(".\n")
            await RisingEdge(clk)
        elif valid.value == 0 and not stall:
            await RisingEdge(valid)
        else:
            await RisingEdge(clk)
    return out
