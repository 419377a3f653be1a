"""cocotb test: the deployment package's own driver (`sqzfpga_driver.driver.Accelerator`, unchanged) on
the simulated board: `pynq` is pynq_rtl over the AXI DMA model (axidma.py), whose MM2S and S2MM
channels drive the generated top's streams (MM2S as wide as the package's layout says; s_axis has no
TKEEP, so a partial beat ends the simulation with an error). The driver runs in a cocotb bridge thread, one
`Accelerator.run` per batch. Limits: no beat on either stream for `idle_cycles` while a transfer is
armed (the design stopped handshaking), more than `max_cycles` in all, or `wall_s` seconds: each ends
the simulation with an error in the result file. Configured by the JSON file named in $SQZ_DMA
(written by sqzfpga.sim.validate)."""
from __future__ import annotations

import contextlib
import importlib.util
import io
import json
import os
import sys
import time

import cocotb
import numpy as np
from cocotb.clock import Clock
from cocotb.task import bridge
from cocotb.triggers import ClockCycles, RisingEdge, Timer
from cocotb.utils import get_sim_time

from sqzfpga.sim import axidma, pynq_rtl

PERIOD_NS = 10


def _finish(cfg: dict, result: dict) -> None:
    with open(cfg["result"], "w") as f:
        json.dump(result, f)


def _state(ch: axidma.Channel, verb: str) -> str:
    return f"{ch.pos} of {ch.length} bytes {verb}" if ch.active else f"idle, {ch.length} bytes {verb} last"


async def _limits(cfg: dict, dut, dma: axidma.AxiDma) -> None:
    """End the simulation (the driver thread may be stuck in a wait without a time limit) on a limit."""
    t0, last_beats, quiet = time.monotonic(), -1, 0
    step = 10_000
    while True:
        await Timer(step * PERIOD_NS, unit="ns")  # one wake-up per step, not one per cycle
        beats = dma.mm2s.beats + dma.s2mm.beats
        armed = dma.mm2s.active or dma.s2mm.active
        quiet = quiet + step if armed and beats == last_beats else 0
        last_beats = beats
        cycles = int(get_sim_time("ns") // PERIOD_NS)
        why = None
        if quiet >= cfg["idle_cycles"]:
            why = (f"the design stopped handshaking: no beat on s_axis or m_axis for {quiet} cycles while DMA "
                   f"transfers were armed (MM2S {_state(dma.mm2s, 'sent')}, S2MM {_state(dma.s2mm, 'received')})")
        elif cycles > cfg["max_cycles"]:
            why = f"simulated time limit: {cycles} cycles, more than {cfg['max_cycles']}"
        elif time.monotonic() - t0 > cfg["wall_s"]:
            why = f"wall-clock limit: {cfg['wall_s']} s"
        if why:
            _finish(cfg, {"error": why, "cycles": cycles})
            os._exit(0)  # the driver's thread may never return; the result file says why


@cocotb.test()
async def dma_run(dut):
    cfg = json.loads(open(os.environ["SQZ_DMA"]).read())
    images = np.load(cfg["images"])
    cocotb.start_soon(Clock(dut.ap_clk, PERIOD_NS, unit="ns").start())
    dut.ap_rst_n.value = 0
    dut.s_axis_tvalid.value = 0
    dut.m_axis_tready.value = 0
    await ClockCycles(dut.ap_clk, 4)
    dut.ap_rst_n.value = 1
    await RisingEdge(dut.ap_clk)

    layout = json.loads(open(os.path.join(cfg["deploy"], "accel.json")).read())["layout"]
    dma = axidma.AxiDma(axidma.Memory(), cfg["length_bits"], mm2s_bits=layout.get("stream_bits", 8))
    stamps: list = []

    def fault(why: str) -> None:  # a stream the DMA cannot send as the accelerator's port takes it
        _finish(cfg, {"error": why, "cycles": int(get_sim_time("ns") // PERIOD_NS)})
        os._exit(0)  # the driver's thread waits on the DMA; the result file says why

    cocotb.start_soon(axidma.mm2s_stream(dma.mm2s, dut.ap_clk, dut.s_axis_tvalid, dut.s_axis_tready,
                                         dut.s_axis_tdata, dut.s_axis_tlast, fault=fault))
    cocotb.start_soon(axidma.s2mm_stream(dma.s2mm, dut.ap_clk, dut.m_axis_tvalid, dut.m_axis_tready,
                                         dut.m_axis_tdata, dut.m_axis_tlast, stamps, cfg["out_bytes"]))
    cocotb.start_soon(_limits(cfg, dut, dma))
    pynq_rtl.install(pynq_rtl.Design(cfg["bitstream"], cfg["dma_name"], dma, dut.ap_clk, PERIOD_NS,
                                     (1 << cfg["length_bits"]) - 1))
    sys.path.insert(0, cfg["deploy"])
    from sqzfpga_driver.driver import Accelerator  # the package's copy, as on the board

    batches = []

    def host():  # the board's Python, in a bridge thread
        acc = Accelerator.open(cfg["deploy"])  # the deadline per frame comes from $SQZFPGA_DMA_FRAME_TIMEOUT_S
        out, i = [], 0
        for n in cfg["batches"]:
            t0, s0 = get_sim_time("ns"), len(stamps)
            out.append(acc.run(images[i:i + n]))
            batches.append({"frames": n, "cycles": int((get_sim_time("ns") - t0) // PERIOD_NS),
                            "stamps_ns": stamps[s0:]})
            i += n
            with open(cfg["progress"], "a") as f:
                f.write(".\n" * n)
        return np.concatenate(out)

    def package_validate():  # the package's validate.py, unchanged, as a user runs it on the board
        spec = importlib.util.spec_from_file_location("package_validate", os.path.join(cfg["deploy"], "validate.py"))
        mod = importlib.util.module_from_spec(spec)
        spec.loader.exec_module(mod)
        text = io.StringIO()
        with contextlib.redirect_stdout(text), contextlib.redirect_stderr(text):
            rc = mod.main(["--images", str(cfg["script_images"]), "--json"])
        lines = text.getvalue().strip().splitlines()
        return {"rc": rc, **(json.loads(lines[-1]) if rc in (0, 1) else {"output": lines[-1:]})}

    try:
        raw = await bridge(host)()
    except Exception as e:  # the driver's error, as a user would see it
        _finish(cfg, {"error": f"{type(e).__name__}: {e}", "batches": batches,
                      "cycles": int(get_sim_time("ns") // PERIOD_NS)})
        return
    np.save(cfg["outputs"], raw)
    res = {"batches": batches, "transfers": {"mm2s": dma.mm2s.transfers, "s2mm": dma.s2mm.transfers},
           "cycles": int(get_sim_time("ns") // PERIOD_NS), "period_ns": PERIOD_NS}
    if cfg["script_images"]:
        res["validate_py"] = await bridge(package_validate)()
    _finish(cfg, res)
