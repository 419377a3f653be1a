"""cocotb test for any one stream module (s_*/m_* ports): the beats in $SQZ_TB's JSON go in with
random valid stalls, come out with random ready stalls, and must equal the scoreboard's beats; the
time of every output beat is recorded (throughput of one layer, with no stalls)."""
from __future__ import annotations

import json
import os
import random

import cocotb
from cocotb.clock import Clock
from cocotb.triggers import ClockCycles, RisingEdge

from sqzfpga.sim.streams import receive, send


@cocotb.test()
async def stream_module(dut):
    cfg = json.loads(open(os.environ["SQZ_TB"]).read())
    rng = random.Random(cfg.get("seed", 0))
    cocotb.start_soon(Clock(dut.clk, 10, unit="ns").start())
    dut.rst.value = 1
    dut.s_valid.value = 0
    dut.m_ready.value = 0
    await ClockCycles(dut.clk, 3)
    dut.rst.value = 0
    await RisingEdge(dut.clk)
    beats_in = [int(b, 16) for b in cfg["in"]]
    want = [int(b, 16) for b in cfg["out"]]
    sender = cocotb.start_soon(send(dut.clk, dut.s_valid, dut.s_ready, dut.s_data, beats_in, stall=cfg["stall"],
                                    rng=rng))
    stamps = []
    got = await receive(dut.clk, dut.m_valid, dut.m_ready, dut.m_data, len(want), stall=cfg["stall"],
                        rng=random.Random(cfg.get("seed", 0) + 1), stamps=stamps)
    await sender
    with open(cfg["result"], "w") as f:
        json.dump({"out": [f"{g:x}" for g in got], "t_out_ns": stamps, "period_ns": 10}, f)
    bad = [i for i, (g, w) in enumerate(zip(got, want)) if g != w]
    assert not bad, f"{len(bad)} of {len(want)} output beats differ from the numpy model (first: beat {bad[0]})"
