"""cocotb test of the whole generated network (top `sqznet_top`): real images in, frames back to
back (the caller compares the outputs with the C simulation's); optionally a reset in the middle
of a frame first. Configured by the JSON file named in $SQZ_TB (written by sqzfpga.sim.rtlsim); writes the
outputs and cycle stamps back into the result file it names."""
from __future__ import annotations

import json
import os

import cocotb
import numpy as np
from cocotb.clock import Clock
from cocotb.triggers import ClockCycles, RisingEdge

from sqzfpga.sim.streams import receive, send

PERIOD_NS = 10


async def _reset(dut, cycles: int = 4):
    dut.rst.value = 1
    dut.s_axis_tvalid.value = 0
    await ClockCycles(dut.clk, cycles)
    dut.rst.value = 0
    await RisingEdge(dut.clk)


@cocotb.test()
async def network(dut):
    cfg = json.loads(open(os.environ["SQZ_TB"]).read())
    images = np.load(cfg["images"])  # N x C x H x W uint8
    out_words, signed_bits = cfg["out_words"], cfg["out_bits"] if cfg["out_signed"] else 0
    frames = [img.transpose(1, 2, 0).reshape(-1).tolist() for img in images]  # channels-last bytes
    cocotb.start_soon(Clock(dut.clk, PERIOD_NS, unit="ns").start())
    dut.m_axis_tready.value = 1
    dut.s_axis_tlast.value = 0
    await _reset(dut)
    if cfg.get("reset_mid_frame"):  # half a frame in, then a reset: the design must forget it
        half = frames[0][: len(frames[0]) // 2]
        await send(dut.clk, dut.s_axis_tvalid, dut.s_axis_tready, dut.s_axis_tdata, half)
        await ClockCycles(dut.clk, 50)
        await _reset(dut)
    t_in, t_out = [], []
    beats = [b for f in frames for b in f]
    sender = cocotb.start_soon(send(dut.clk, dut.s_axis_tvalid, dut.s_axis_tready, dut.s_axis_tdata, beats,
                                    stamps=t_in, last=dut.s_axis_tlast, frame=len(frames[0])))
    got = await receive(dut.clk, dut.m_axis_tvalid, dut.m_axis_tready, dut.m_axis_tdata, out_words * len(frames),
                        stamps=t_out, last=dut.m_axis_tlast, signed_bits=signed_bits,
                        progress=cfg.get("progress"))
    await sender
    got = np.asarray(got, dtype=np.int64).reshape(len(frames), out_words)
    with open(cfg["result"], "w") as f:
        json.dump({"outputs": got.tolist(), "t_in_ns": t_in, "t_out_ns": t_out, "period_ns": PERIOD_NS}, f)
