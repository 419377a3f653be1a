"""cocotb test of the whole generated network (top `sqznet_top`) as the DMA sees it: the input
stream is the driver's packed input buffer (firmware/layout.py), byte by byte, and the output beats
are stored as the S2MM channel would store them (little-endian 32-bit words), for the driver's
`unpack` (the caller compares with the C simulation); optionally a reset in the middle of a frame
first, and random stalls on both streams. Configured by the JSON file named in $SQZ_TB (written by
sqzfpga.sim.rtlsim); writes the output buffer and cycle stamps into the files it names."""
from __future__ import annotations

import json
import os
import random

import cocotb
import numpy as np
from cocotb.clock import Clock
from cocotb.triggers import ClockCycles, RisingEdge

from sqzfpga.firmware.layout import Layout, pack, words
from sqzfpga.sim.streams import receive, send

PERIOD_NS = 10


async def _reset(dut, cycles: int = 4):
    dut.ap_rst_n.value = 0
    dut.s_axis_tvalid.value = 0
    await ClockCycles(dut.ap_clk, cycles)
    dut.ap_rst_n.value = 1
    await RisingEdge(dut.ap_clk)


@cocotb.test()
async def network(dut):
    cfg = json.loads(open(os.environ["SQZ_TB"]).read())
    layout = Layout.from_dict(cfg["layout"])
    images = np.load(cfg["images"])  # N x C x H x W uint8
    buf = pack(images, layout)  # the MM2S buffer
    cocotb.start_soon(Clock(dut.ap_clk, PERIOD_NS, unit="ns").start())
    dut.m_axis_tready.value = 1
    dut.s_axis_tlast.value = 0
    await _reset(dut)
    if cfg.get("reset_mid_frame"):  # half a frame in, then a reset: the design must forget it
        half = buf[: layout.in_bytes // 2].tolist()
        await send(dut.ap_clk, dut.s_axis_tvalid, dut.s_axis_tready, dut.s_axis_tdata, half)
        await ClockCycles(dut.ap_clk, 50)
        await _reset(dut)
    t_in, t_out = [], []
    stall, seed = cfg.get("stall", 0.0), cfg.get("seed", 0)  # random backpressure on both streams
    sender = cocotb.start_soon(send(dut.ap_clk, dut.s_axis_tvalid, dut.s_axis_tready, dut.s_axis_tdata, buf.tolist(),
                                    stall=stall, rng=random.Random(seed), stamps=t_in, last=dut.s_axis_tlast,
                                    frame=layout.in_bytes))
    got = await receive(dut.ap_clk, dut.m_axis_tvalid, dut.m_axis_tready, dut.m_axis_tdata,
                        layout.out_words * len(images), stall=stall, rng=random.Random(seed + 1), stamps=t_out,
                        last=dut.m_axis_tlast, progress=cfg.get("progress"))
    await sender
    words(got).tofile(cfg["output_buffer"])  # the S2MM buffer
    with open(cfg["result"], "w") as f:
        json.dump({"t_in_ns": t_in, "t_out_ns": t_out, "period_ns": PERIOD_NS}, f)
