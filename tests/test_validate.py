"""`validate --on rtl`: the deployment package's driver, unchanged, over the PG021 AXI DMA model and the
pynq stand-in against the generated RTL; the known-wrong cases (the old top's TLAST on every frame, a
design that never takes input) are rejected with one error line; the DMA model's own rules."""
from __future__ import annotations

import json
import shutil
import time
from pathlib import Path

import numpy as np
import pytest
from conftest import assert_clean_error, run_cli

from sqzfpga.sim import axidma

PORTS = """    input  logic ap_clk, ap_rst_n,
    input  logic [7:0] s_axis_tdata, input logic s_axis_tvalid, output logic s_axis_tready,
    input  logic s_axis_tlast,
    output logic [31:0] m_axis_tdata, output logic m_axis_tvalid, input logic m_axis_tready,
    output logic m_axis_tlast"""

# The top as it was before the batch protocol: TLAST on the last word of every frame.
EVERY_FRAME_TLAST = """module mutant_top (
{ports}
);
  logic inner_last;
  logic [15:0] n;
  sqznet_top dut (.ap_clk, .ap_rst_n, .s_axis_tdata, .s_axis_tvalid, .s_axis_tready, .s_axis_tlast, .m_axis_tdata,
                  .m_axis_tvalid, .m_axis_tready, .m_axis_tlast(inner_last));
  assign m_axis_tlast = n == 16'({words} - 1);
  always_ff @(posedge ap_clk)
    if (!ap_rst_n) n <= '0;
    else if (m_axis_tvalid && m_axis_tready) n <= (n == 16'({words} - 1)) ? '0 : n + 1'b1;
endmodule
"""

# A design that stops handshaking: its input is never ready.
NEVER_READY = """module mutant_top (
{ports}
);
  sqznet_top dut (.ap_clk, .ap_rst_n, .s_axis_tdata, .s_axis_tvalid(1'b0), .s_axis_tready(), .s_axis_tlast,
                  .m_axis_tdata, .m_axis_tvalid, .m_axis_tready, .m_axis_tlast);
  assign s_axis_tready = 1'b0;
endmodule
"""


def mutant(build: Path, dst: Path, wrapper: str) -> Path:
    """A copy of `build`'s package, RTL and block design whose top is `wrapper` around sqznet_top."""
    shutil.copytree(build / "deploy", dst / "deploy")
    shutil.copytree(build / "rtl", dst / "rtl", ignore=shutil.ignore_patterns("synth"))
    (dst / "vivado").mkdir()
    shutil.copyfile(build / "vivado" / "block_design.tcl", dst / "vivado" / "block_design.tcl")
    shutil.copyfile(build / "build.json", dst / "build.json")
    m = json.loads((dst / "rtl" / "rtl.json").read_text())
    (dst / "rtl" / "mutant_top.sv").write_text(wrapper.format(ports=PORTS, words=m["layout"]["out_words"]))
    m.update(top="mutant_top", sources=m["sources"] + ["mutant_top.sv"])
    (dst / "rtl" / "rtl.json").write_text(json.dumps(m))
    return dst


@pytest.mark.xdist_group("default_build")
def test_validate_rtl_batches_exact(default_build):
    """The issue's command: 1 + 7 + 64 frames, one DMA transfer per direction per batch, all exact; then
    the package's validate.py on 3 images."""
    out, _ = default_build
    r = run_cli("validate", "--build", out, "--on", "rtl", "--batches", "1,7,64", "--script-images", "3", "--json",
                timeout=900)
    assert r.returncode == 0, r.stderr[-2000:]
    res = json.loads(r.stdout.strip().splitlines()[-1])
    assert res["exact"] and res["frames"] == 72 and res["batches"] == [1, 7, 64]
    assert res["transfers"] == {"mm2s": 3, "s2mm": 3}
    assert abs(res["cycles_per_frame"] / res["planned_cycles_per_frame"] - 1) < 0.05
    v = res["validate_py"]  # the package's validate.py, unchanged, on the same simulated board
    assert v["rc"] == 0 and v["exact"] and v["backend"] == "pynq" and v["images"] == 3


@pytest.mark.xdist_group("default_build")
def test_every_frame_tlast_is_rejected(default_build, tmp_path):
    """The old top (TLAST on each frame) with this driver: S2MM ends after frame 1, one clear error, no hang."""
    d = mutant(default_build[0], tmp_path / "old", EVERY_FRAME_TLAST)
    t0 = time.time()
    r = run_cli("validate", "--build", d, "--on", "rtl", "--batches", "2", "--json", timeout=300)
    assert r.returncode == 2
    assert_clean_error(r, "received 40 of 80 bytes")
    assert time.time() - t0 < 120


@pytest.mark.xdist_group("default_build")
def test_deadlock_ends_with_one_error_line(default_build, tmp_path):
    """A design whose input is never ready: one error line, exit 2, well within two minutes."""
    d = mutant(default_build[0], tmp_path / "stuck", NEVER_READY)
    t0 = time.time()
    r = run_cli("validate", "--build", d, "--on", "rtl", "--batches", "1,7,64", "--json", timeout=300)
    assert r.returncode == 2
    err = assert_clean_error(r)  # the simulation's watchdog or the driver's deadline, whichever fires first
    assert "stopped handshaking" in err or "MM2S stalled" in err and "the DMA was reset" in err, err
    assert time.time() - t0 < 120


# ---- the DMA model (PG021 simple mode) ---------------------------------------------------------------
def _dma():
    mem = axidma.Memory()
    dma = axidma.AxiDma(mem)
    src, sbuf = mem.allocate(8)
    dst, dbuf = mem.allocate(16)
    sbuf[:] = np.arange(8, dtype=np.uint8)
    return dma, src, dst, dbuf


def _start(dma, off, addr, n):
    dma.write(off + axidma.DMACR, axidma.RS)
    dma.write(off + axidma.ADDR, addr)
    dma.write(off + axidma.LENGTH, n)


def test_length_write_while_halted_starts_nothing():
    dma, src, _, _ = _dma()
    dma.write(axidma.ADDR, src)
    dma.write(axidma.LENGTH, 8)  # RS = 0: PG021 says the write has no effect
    sr = dma.read(axidma.DMASR)
    assert sr & axidma.HALTED and not sr & axidma.IDLE and dma.mm2s.beat() is None and dma.mm2s.transfers == 0


def test_length_write_while_busy_is_an_internal_error():
    dma, src, _, _ = _dma()
    _start(dma, 0, src, 8)
    dma.write(axidma.LENGTH, 8)
    sr = dma.read(axidma.DMASR)
    assert sr & axidma.INT_ERR and sr & axidma.HALTED and sr & axidma.ERR_IRQ and dma.mm2s.beat() is None


def test_mm2s_sends_bytes_with_tlast_on_the_last():
    dma, src, _, _ = _dma()
    _start(dma, 0, src, 8)
    beats = []
    while (b := dma.mm2s.beat()) is not None:
        beats.append(b)
        dma.mm2s.take()
    assert beats == [(i, i == 7) for i in range(8)]
    assert dma.read(axidma.DMASR) & (axidma.IDLE | axidma.IOC_IRQ) == axidma.IDLE | axidma.IOC_IRQ


def test_s2mm_stops_at_tlast_with_the_received_length_then_takes_nothing():
    dma, _, dst, dbuf = _dma()
    _start(dma, axidma.S2MM, dst, 16)
    dma.s2mm.put(0x04030201, False)
    dma.s2mm.put(0x08070605, True)
    assert dma.read(axidma.S2MM + axidma.LENGTH) == 8
    assert dma.read(axidma.S2MM + axidma.DMASR) & axidma.IDLE and not dma.s2mm.active  # tready low from here
    assert list(dbuf[:8]) == list(range(1, 9))


def test_s2mm_packet_longer_than_length_is_an_internal_error():
    dma, _, dst, _ = _dma()
    _start(dma, axidma.S2MM, dst, 8)
    dma.s2mm.put(1, False)
    dma.s2mm.put(2, False)
    sr = dma.read(axidma.S2MM + axidma.DMASR)
    assert sr & axidma.INT_ERR and sr & axidma.HALTED and not dma.s2mm.active


def test_address_outside_the_buffers_is_a_decode_error():
    dma, src, _, _ = _dma()
    _start(dma, 0, src + 4, 8)  # runs 4 bytes past the buffer
    assert dma.read(axidma.DMASR) & axidma.DEC_ERR and dma.mm2s.beat() is None


def test_soft_reset_clears_errors_and_both_channels():
    dma, src, dst, _ = _dma()
    _start(dma, 0, src + 4, 8)
    _start(dma, axidma.S2MM, dst, 16)
    dma.write(axidma.DMACR, axidma.RS)  # an error holds the channel halted until a reset
    assert dma.read(axidma.DMASR) & axidma.HALTED
    dma.write(axidma.S2MM + axidma.DMACR, axidma.RESET)
    for off in (0, axidma.S2MM):
        assert dma.read(off + axidma.DMASR) == axidma.HALTED and dma.read(off + axidma.DMACR) == axidma.DMACR_DEFAULT
    assert not dma.s2mm.active
    _start(dma, 0, src, 8)
    assert dma.mm2s.beat() == (0, False)
