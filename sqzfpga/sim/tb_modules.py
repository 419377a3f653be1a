"""cocotb test for any one stream module (s_*/m_* ports): the beats in $SQZ_TB's JSON go in with
random valid stalls, come out with random ready stalls, and must equal the scoreboard's beats, no
more: after the expected beats the output must stay quiet for twice the longest gap seen between
beats. A watchdog fails the test when no beat moves for IDLE_CYCLES (none of the library modules
has a last signal; the stream adapters' TLAST is checked by the network bench). The time of every
output beat is recorded (throughput of one layer, with no stalls)."""
from __future__ import annotations

import json
import os
import random

import cocotb
from cocotb.clock import Clock
from cocotb.triggers import ClockCycles, RisingEdge, select

from sqzfpga.sim.streams import Progress, extra_beats, receive, send, watchdog

PERIOD_NS = 10
IDLE_CYCLES = 100_000  # no beat on either stream for this long: a stall (test modules are small)
LIMIT_CYCLES = 10_000_000
WALL_S = 600  # rtlsim.run_module kills the simulator at 900 s


@cocotb.test()
async def stream_module(dut):
    cfg = json.loads(open(os.environ["SQZ_TB"]).read())
    rng = random.Random(cfg.get("seed", 0))
    cocotb.start_soon(Clock(dut.clk, PERIOD_NS, unit="ns").start())
    dut.rst.value = 1
    dut.s_valid.value = 0
    dut.m_ready.value = 0
    await ClockCycles(dut.clk, 3)
    dut.rst.value = 0
    await RisingEdge(dut.clk)
    beats_in = [int(b, 16) for b in cfg["in"]]
    want = [int(b, 16) for b in cfg["out"]]
    prog = Progress()

    async def run():
        sender = cocotb.start_soon(send(dut.clk, dut.s_valid, dut.s_ready, dut.s_data, beats_in,
                                        stall=cfg["stall"], rng=rng, progress=prog))
        stamps = []
        got = await receive(dut.clk, dut.m_valid, dut.m_ready, dut.m_data, len(want), stall=cfg["stall"],
                            rng=random.Random(cfg.get("seed", 0) + 1), stamps=stamps, progress=prog)
        await sender
        gaps = [b - a for a, b in zip(stamps, stamps[1:])] or [0]
        quiet = min(max(1000, 2 * round(max(gaps) / PERIOD_NS)), IDLE_CYCLES // 2)
        extra = await extra_beats(dut.clk, dut.m_valid, dut.m_ready, quiet, PERIOD_NS)
        return got, stamps, extra, quiet

    def where(p: Progress) -> str:
        return (f"input: {p.beats_in} of {len(beats_in)} beats taken{' (s_ready low)' if p.in_blocked else ''}; "
                f"output: {p.beats_out} of {len(want)} beats")

    idx, res = await select(run(), watchdog(prog, PERIOD_NS, IDLE_CYCLES, LIMIT_CYCLES, WALL_S, where))
    assert idx == 0, res
    got, stamps, extra, quiet = res
    with open(cfg["result"], "w") as f:
        json.dump({"out": [f"{g:x}" for g in got], "t_out_ns": stamps, "period_ns": PERIOD_NS}, f)
    bad = [i for i, (g, w) in enumerate(zip(got, want)) if g != w]
    assert not bad, f"{len(bad)} of {len(want)} output beats differ from the numpy model (first: beat {bad[0]})"
    assert not extra, f"an output beat after the expected {len(want)} (m_valid high within {quiet} cycles)"
