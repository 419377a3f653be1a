"""cocotb test of the whole generated network (top `sqznet_top`) as the DMA sees it: the input
stream is the driver's packed input buffer (driver/layout.py), beat by beat (a byte, or the layout's
wider beats), sent as the MM2S channel sends its transfers (s_axis_tlast high on each transfer's final
beat; the images go as one transfer, or as the batches of cfg "batches", back to back), and the output
beats are stored as the
S2MM channel would store them (little-endian 32-bit words), for the driver's `unpack` (the caller
compares with the C simulation). Framing is checked as the batch protocol of driver/layout.py
says: exactly the expected words, no beat after them, m_axis_tlast high exactly on the final word of
each transfer. Optionally a reset in the middle of a frame first, and random stalls on both streams.

No run can hang: a watchdog fails the test when no beat moves on either stream for `idle_cycles`,
at `limit_cycles` of simulated time and after `wall_s` seconds, naming where each stream stopped.

Configured by the JSON file named in $SQZ_TB (written by sqzfpga.sim.rtlsim); writes the output
buffer and cycle stamps into the files it names, or on any failure one sentence into cfg "error"."""
from __future__ import annotations

import json
import os
import random

import cocotb
import numpy as np
from cocotb.clock import Clock
from cocotb.triggers import ClockCycles, RisingEdge, select

from sqzfpga.driver.layout import Layout, beats, pack, words
from sqzfpga.sim.streams import Progress, extra_beats, receive, send, watchdog

PERIOD_NS = 10


async def _reset(dut, cycles: int = 4):
    dut.ap_rst_n.value = 0
    dut.s_axis_tvalid.value = 0
    await ClockCycles(dut.ap_clk, cycles)
    dut.ap_rst_n.value = 1
    await RisingEdge(dut.ap_clk)


def tlast_errors(lasts: list[int], batches: list[int], out_words: int) -> list[str]:
    """Where m_axis_tlast differs from the protocol: high exactly on each transfer's final word."""
    bounds = np.cumsum([0] + batches)  # first frame of each transfer
    ends = {int(b) * out_words - 1 for b in bounds[1:]}
    errors = []
    for i, bit in enumerate(lasts):
        if bool(bit) != (i in ends):
            f = i // out_words
            t = int(np.searchsorted(bounds, f, side="right")) - 1
            errors.append(f"m_axis_tlast {'high' if bit else 'low'} on word {i % out_words} of frame {f} (frame "
                          f"{f - bounds[t]} of transfer {t}, which has {batches[t]} frame(s)); expected high only "
                          f"on the final word of each transfer (an S2MM transfer ends at the first TLAST)")
    return errors


@cocotb.test()
async def network(dut):
    cfg = json.loads(open(os.environ["SQZ_TB"]).read())
    layout = Layout.from_dict(cfg["layout"])
    images = np.load(cfg["images"])  # N x C x H x W uint8
    n = len(images)
    batches = cfg.get("batches") or [n]
    assert sum(batches) == n and min(batches) > 0, f"batches {batches} do not split {n} images"
    buf = beats(pack(images, layout), layout.stream_bits)  # the MM2S buffers, back to back
    per = layout.in_beats
    ends = set(int(e) * per - 1 for e in np.cumsum(batches))  # TLAST: each transfer's final beat
    cocotb.start_soon(Clock(dut.ap_clk, PERIOD_NS, unit="ns").start())
    dut.m_axis_tready.value = 1
    dut.s_axis_tlast.value = 0
    prog = Progress()
    total_out = layout.out_words * n

    def where(p: Progress) -> str:
        took = "the design stopped taking input (s_axis_tready low)" if p.in_blocked else "input idle"
        inp = (f"s_axis: {p.beats_in} of {len(buf)} beats in ({p.beats_in // per} of {n} frames)"
               + ("" if p.beats_in >= len(buf) else f", {took}"))
        out = f"m_axis: {p.beats_out} of {total_out} words out ({p.beats_out // layout.out_words} of {n} frames)"
        if p.beats_out < total_out and p.out_waiting:
            out += ", m_axis_tvalid low"
        return f"{inp}; {out}"

    async def run():
        await _reset(dut)
        if cfg.get("reset_mid_frame"):  # half a frame in, then a reset: the design must forget it
            half = buf[: per // 2]
            await send(dut.ap_clk, dut.s_axis_tvalid, dut.s_axis_tready, dut.s_axis_tdata, half)
            await ClockCycles(dut.ap_clk, 50)
            await _reset(dut)
        t_in, t_out, lasts = [], [], []
        stall, seed = cfg.get("stall", 0.0), cfg.get("seed", 0)  # random backpressure on both streams
        sender = cocotb.start_soon(send(dut.ap_clk, dut.s_axis_tvalid, dut.s_axis_tready, dut.s_axis_tdata,
                                        buf, stall=stall, rng=random.Random(seed), stamps=t_in,
                                        last=dut.s_axis_tlast, ends=ends, frame=per, progress=prog))
        got = await receive(dut.ap_clk, dut.m_axis_tvalid, dut.m_axis_tready, dut.m_axis_tdata, total_out,
                            stall=stall, rng=random.Random(seed + 1), stamps=t_out, last=dut.m_axis_tlast,
                            lasts=lasts, frame=layout.out_words, progress_file=cfg.get("progress"), progress=prog)
        await sender
        quiet = cfg["quiet_cycles"]
        extra = await extra_beats(dut.ap_clk, dut.m_axis_tvalid, dut.m_axis_tready, quiet, PERIOD_NS)
        return got, t_in, t_out, lasts, extra, quiet

    idx, res = await select(run(), watchdog(prog, PERIOD_NS, cfg["idle_cycles"], cfg["limit_cycles"], cfg["wall_s"],
                                            where))
    errors = []
    if idx == 1:
        errors.append(res)
    else:
        got, t_in, t_out, lasts, extra, quiet = res
        tl = tlast_errors(lasts, batches, layout.out_words)
        if tl:  # the S2MM channel ends its transfer at the first TLAST: the words after it would be lost
            errors.append(tl[0] + (f" ({len(tl) - 1} more word(s) wrong)" if len(tl) > 1 else ""))
        if extra:
            errors.append(f"m_axis offered a beat after the expected {total_out} words ({n} frames), within "
                          f"{quiet} cycles")
        words(got).tofile(cfg["output_buffer"])  # the S2MM buffer
        with open(cfg["result"], "w") as f:
            json.dump({"t_in_ns": t_in, "t_out_ns": t_out, "period_ns": PERIOD_NS}, f)
    if errors:
        with open(cfg["error"], "w") as f:
            f.write(errors[0] + "\n")
    assert not errors, errors[0]
