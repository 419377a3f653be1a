"""cocotb AXI-Stream source and sink with optional random stalls (valid and ready), cycle-stamped,
plus the checks every testbench shares: nothing after the expected beats, and a watchdog so that no
simulation can hang (no beat for too long, a simulated-time limit, a wall-clock limit).

Handshake rule: a beat moves on the rising edge where valid and ready were both 1; we sample ready
and valid in the ReadOnly phase just before that edge. Long waits sleep on the signal's edge instead
of polling every cycle, so a whole-network simulation costs Python time per beat, not per cycle.
"""
from __future__ import annotations

import random
import time
from dataclasses import dataclass

from cocotb.triggers import ReadOnly, RisingEdge, SimTimeoutError, Timer, with_timeout
from cocotb.utils import get_sim_time


@dataclass
class Progress:
    """Beats moved so far on each stream and whether a side is waiting for the design, for the
    watchdog's verdict."""
    beats_in: int = 0
    beats_out: int = 0
    in_blocked: bool = False  # input valid high, the design's ready low
    out_waiting: bool = False  # output ready high, the design's valid low


async def send(clk, valid, ready, data, beats, stall: float = 0.0, rng: random.Random | None = None,
               stamps: list | None = None, last=None, ends: set | None = None, frame: int = 0,
               progress: Progress | None = None):
    """Drive `beats` (ints); with `stall` > 0, hold valid low for random cycles between beats.
    `last` (if given) is high on the beats whose index is in `ends`. `stamps` gets the sim time (ns)
    of each accepted beat whose index is a multiple of `frame`."""
    rng = rng or random.Random(0)
    prog = progress or Progress()
    for i, beat in enumerate(beats):
        while stall and rng.random() < stall:
            valid.value = 0
            await RisingEdge(clk)
        valid.value = 1
        data.value = int(beat)
        if last is not None:
            last.value = int(bool(ends) and i in ends)
        while True:
            await ReadOnly()
            if ready.value == 1:
                if stamps is not None and frame and i % frame == 0:
                    stamps.append(get_sim_time("ns"))
                prog.in_blocked = False
                prog.beats_in += 1
                await RisingEdge(clk)
                break
            prog.in_blocked = True
            await RisingEdge(ready)
    valid.value = 0
    if last is not None:
        last.value = 0


async def receive(clk, valid, ready, data, n: int, stall: float = 0.0, rng: random.Random | None = None,
                  stamps: list | None = None, last=None, lasts: list | None = None, frame: int = 1,
                  signed_bits: int = 0, progress_file: str | None = None, progress: Progress | None = None):
    """Take `n` beats; with `stall` > 0, drop ready on random cycles. Returns the values (ints).
    `lasts` gets each beat's `last` bit; `stamps` gets the sim time (ns) of every `frame`-th beat (a
    frame's last); `progress_file` names a file that gets one line per frame (a progress bar outside)."""
    rng = rng or random.Random(1)
    prog = progress or Progress()
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
            if lasts is not None:
                lasts.append(int(last.value))
            prog.out_waiting = False
            prog.beats_out += 1
            if len(out) % frame == 0:
                if stamps is not None:
                    stamps.append(get_sim_time("ns"))
                if progress_file:
                    with open(progress_file, "a") as f:
                        f.write(".\n")
            await RisingEdge(clk)
        elif valid.value == 0 and not stall:
            prog.out_waiting = True
            await RisingEdge(valid)
        else:
            await RisingEdge(clk)
    return out


async def extra_beats(clk, valid, ready, cycles: int, period_ns: float) -> int:
    """After the expected beats: hold ready high for `cycles` cycles; 1 when the design offers one
    more beat in that time (valid high), else 0. Sleeps on valid's edge, not per cycle."""
    ready.value = 1
    await ReadOnly()
    if valid.value == 1:
        return 1
    try:
        await with_timeout(RisingEdge(valid), cycles * period_ns, "ns")
    except SimTimeoutError:
        return 0
    return 1


async def watchdog(prog: Progress, period_ns: float, idle_cycles: int, limit_cycles: int, wall_s: float,
                   describe) -> str:
    """Returns a verdict (one sentence) when no beat moved on either stream for `idle_cycles`, when
    the simulation reaches `limit_cycles`, or after `wall_s` seconds of wall-clock time; runs until
    cancelled otherwise. `describe(prog)` says where each stream stopped. Wakes on a timer, not per
    cycle."""
    t0, start = time.monotonic(), get_sim_time("ns")
    step = max(1, min(idle_cycles // 4, 10_000))
    seen, idle = (prog.beats_in, prog.beats_out), 0
    while True:
        await Timer(step * period_ns, "ns")
        now = (prog.beats_in, prog.beats_out)
        idle = 0 if now != seen else idle + step
        seen = now
        cycles = round((get_sim_time("ns") - start) / period_ns)
        if idle >= idle_cycles:
            return f"deadlock: no beat on either stream for {idle} cycles; {describe(prog)}"
        if cycles >= limit_cycles:
            return f"simulated-time limit of {limit_cycles} cycles reached; {describe(prog)}"
        if time.monotonic() - t0 > wall_s:
            return f"wall-clock limit of {wall_s:.0f} s reached after {cycles} cycles; {describe(prog)}"
