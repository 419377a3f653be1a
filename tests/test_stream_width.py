"""The DMA-facing input stream width (`--stream-bits`, driver/layout.py): the layout's beats and padding,
the PG021 DMA model with wide streams and TKEEP, the planner's choice of width, the wide input adapter
(sqz_beats_to_pixels) alone and in a whole network, and the package's unchanged driver through the
DMA model; known-wrong cases (an unpadded buffer, an S2MM buffer too short, a bad width) rejected.

Run times on the 2 shared cores (quiet machine / with other jobs running): the pure-Python tests
under 1 s each; the wide adapter module ~30 / 57 s (two runs, one Verilator compile); the module
fixture builds a kept fuzz example (25x25x4 in: 2,500 bytes, not whole 64-bit beats, so frames are
padded) once at 64-bit beats, 75 / 135 s; then rtlsim 67 / 162 s, validate --on rtl and the stand-in
66 / 181 s, the rejected unpadded driver ~60 / 153 s, plan 5 / 19 s, a package older than its RTL
~15 s (no simulation).
"""
from __future__ import annotations

import json
import re
import shutil
import subprocess
import sys

import numpy as np
import pytest

from conftest import ROOT, assert_clean_error, run_cli
from sqzfpga.driver.layout import Layout, beats, pack, raster
from sqzfpga.rtl.generate import LIBRARY, WIDE_ADAPTER
from sqzfpga.rtl.plan import Budget, plan_stream
from sqzfpga.rtl.unit import Unit
from sqzfpga.sim import axidma
from sqzfpga.sim.rtlsim import run_module

pytestmark = pytest.mark.xdist_group("stream_width")  # one small build shared by this module's tests
MODEL = ROOT / "tests" / "fuzz_regressions" / "gap_narrow_numerator_v11.onnx"
BITS = 64


def _layout(bits: int) -> Layout:
    return Layout(channels=3, height=5, width=5, out_words=2, out_bits=16, out_frac=0, out_signed=True,
                  stream_bits=bits)


# ---- layout ------------------------------------------------------------------------------------------
def test_layout_packs_little_endian_beats_and_pads_frames():
    rng = np.random.default_rng(0)
    images = rng.integers(0, 256, (3, 3, 5, 5), dtype=np.uint8)  # 75 bytes a frame
    lay = _layout(64)
    assert (lay.in_values, lay.in_beats, lay.in_bytes) == (75, 10, 80)
    buf = pack(images, lay)
    assert buf.size == 3 * 80
    frames = buf.reshape(3, 80)
    assert np.array_equal(frames[:, :75], raster(images)) and not frames[:, 75:].any()  # each frame padded
    b = beats(buf, 64)
    assert len(b) == 30 and b[0] == int.from_bytes(raster(images)[0, :8].tobytes(), "little")
    assert b[0] & 0xFF == images[0, 0, 0, 0] and (b[0] >> 8) & 0xFF == images[0, 1, 0, 0]  # byte 0 lowest
    # 8 bits: the layout of earlier packages, byte for byte, and its dict without the new field
    old = _layout(8)
    assert np.array_equal(pack(images, old), raster(images).reshape(-1))
    assert "stream_bits" not in old.to_dict() and Layout.from_dict(old.to_dict()) == old
    assert Layout.from_dict(lay.to_dict()).stream_bits == 64
    with pytest.raises(ValueError, match="stream_bits 12"):
        _layout(12)
    with pytest.raises(ValueError, match="not whole 64-bit beats"):
        beats(raster(images).reshape(-1), 64)  # an unpadded buffer of 225 bytes


# ---- the DMA model ------------------------------------------------------------------------------------
def _armed(ch: axidma.Channel, dma: axidma.AxiDma, off: int, nbytes: int, data: bytes | None = None):
    addr, mem = dma.memory.allocate(nbytes)
    if data is not None:
        mem[:len(data)] = np.frombuffer(data, np.uint8)
    dma.write(off + axidma.DMACR, axidma.RS)
    dma.write(off + axidma.ADDR, addr)
    dma.write(off + axidma.LENGTH, nbytes)
    return mem


def test_dma_model_wide_mm2s_partial_last_beat_has_tkeep():
    dma = axidma.AxiDma(axidma.Memory(), mm2s_bits=64)
    data = bytes(range(1, 21))  # 20 bytes: two whole 64-bit beats and one of 4 bytes
    _armed(dma.mm2s, dma, 0, 20, data)
    got = []
    while (b := dma.mm2s.beat()) is not None:
        got.append((b[0], dma.mm2s.keep(), b[1]))
        dma.mm2s.take()
    assert [(k, last) for _, k, last in got] == [(0xFF, False), (0xFF, False), (0x0F, True)]
    assert got[0][0] == int.from_bytes(data[:8], "little") and got[2][0] == int.from_bytes(data[16:], "little")
    assert dma.read(axidma.DMASR) & axidma.IDLE and dma.read(axidma.LENGTH) == 20


def test_dma_model_wide_s2mm_tkeep_and_failure_modes():
    dma = axidma.AxiDma(axidma.Memory(), s2mm_bits=64)
    mem = _armed(dma.s2mm, dma, axidma.S2MM, 16)
    dma.s2mm.put(0x0807060504030201, False)
    dma.s2mm.put(0x0C0B0A09, True, keep=0x0F)  # the last beat: 4 bytes kept
    assert dma.read(axidma.S2MM + axidma.LENGTH) == 12 and bytes(mem[:12]) == bytes(range(1, 13))
    assert dma.read(axidma.S2MM + axidma.DMASR) & axidma.IDLE
    # known-wrong: the packet is longer than the S2MM buffer (8 bytes armed, 16 sent): DMAIntErr, halted
    dma.write(axidma.DMACR, axidma.RESET)
    _armed(dma.s2mm, dma, axidma.S2MM, 8)
    dma.s2mm.put(1, False)
    sr = dma.read(axidma.S2MM + axidma.DMASR)
    assert sr & axidma.INT_ERR and sr & axidma.HALTED and not dma.s2mm.active
    # a last beat with more bytes than the buffer has room for is the same error
    dma.write(axidma.DMACR, axidma.RESET)
    _armed(dma.s2mm, dma, axidma.S2MM, 12)
    dma.s2mm.put(1, False)
    dma.s2mm.put(2, True)  # 8 more bytes, room for 4
    assert dma.read(axidma.S2MM + axidma.DMASR) & axidma.INT_ERR
    # a partial TKEEP before the last beat
    dma.write(axidma.DMACR, axidma.RESET)
    _armed(dma.s2mm, dma, axidma.S2MM, 32)
    dma.s2mm.put(1, False, keep=0x0F)
    assert dma.read(axidma.S2MM + axidma.DMASR) & axidma.INT_ERR
    with pytest.raises(ValueError, match="24"):
        axidma.AxiDma(axidma.Memory(), mm2s_bits=24)


# ---- the planner's choice -------------------------------------------------------------------------------
def _units(other_cycles: int) -> list[Unit]:
    """Config (c)'s input (224 x 224 x 3 bytes) before one unit that takes `other_cycles` per frame."""
    return [Unit("input", "adapter", 224 * 224 * 3, 224 * 224), Unit("gap", "gap", other_cycles, 1)]


def test_planner_chooses_narrowest_width_that_does_not_limit_the_rate():
    bud = Budget(dsp=10, lut=10**6, ff=10**6, bram36=100)
    # the input adapter's cycles: 150,528 at 8 bits (one byte a cycle); 50,176 at 32 and 64 (one pixel a cycle)
    for bits, cycles in ((8, 150_528), (32, 50_176), (64, 50_176), (128, 50_176)):
        p, got = plan_stream(_units(1000), bud, stream_bits=bits)
        assert got == bits and p["units"][0]["cycles"] == cycles and p["units"][0]["pi"] == bits // 8
    assert plan_stream(_units(200_000), bud)[1] == 8  # the input does not limit the rate: 8
    p, bits = plan_stream(_units(60_000), bud)
    assert bits == 32 and p["cycles_per_frame"] == 60_000
    p, bits = plan_stream(_units(1000), bud)  # input-bound at every width: the narrowest at the floor
    assert bits == 32 and p["cycles_per_frame"] == 50_176 and p["bottleneck"] == "input"


# ---- the wide adapter alone ------------------------------------------------------------------------------
def test_wide_adapter_module_exact_and_cycles_as_planned(tmp_path):
    """C=3 channels, 8-byte beats: pixels straddle beats; a 25-pixel frame is 75 bytes, 10 beats, the
    last with 3 data bytes and 5 of padding. Without stalls, one pixel per cycle: the plan's cycles;
    with random stalls on both sides, still exact (the same compiled design, run twice)."""
    rng = np.random.default_rng(4)
    c, px, frames, nb = 3, 25, 4, 8
    images = rng.integers(0, 256, (frames, px * c), dtype=np.uint8)
    lay = Layout(channels=c, height=5, width=5, out_words=1, out_bits=8, out_frac=0, out_signed=False,
                 stream_bits=8 * nb)
    buf = np.concatenate([np.pad(f, (0, lay.in_bytes - f.size)) for f in images])
    want = [int.from_bytes(p.tobytes(), "little") for p in images.reshape(-1, c)]
    params = {"C": c, "IB": 8, "FRAME": px * c, "NB": nb, "FLAGS": frames}
    for stall in (0.0, 0.3):
        ok, log = run_module("sqz_beats_to_pixels", params, tmp_path, tmp_path / "sim", beats(buf, 8 * nb), want,
                             stall, sources=[LIBRARY / "sqz_mem.sv", LIBRARY / "sqz_fifo.sv", WIDE_ADAPTER])
        assert ok, log[-2000:]
        if not stall:
            t = json.loads((tmp_path / "sim" / "result.json").read_text())["t_out_ns"]
            per_frame = (t[-1] - t[px - 1]) / 10 / (frames - 1)  # one stamp per output pixel, 10 ns a cycle
            unit = Unit("input", "adapter", px * c, px, pi=nb)
            assert unit.cycles == px and per_frame == px


# ---- a whole network at 64-bit beats ---------------------------------------------------------------------
@pytest.fixture(scope="module")
def wide(tmp_path_factory):
    out = tmp_path_factory.mktemp("wide") / "build"
    proc = run_cli("build", "--model", MODEL, "--images", 4, "--board", "pynq-z2", "--stream-bits", BITS,
                   "--out", out, "--json")
    assert proc.returncode == 0, proc.stderr[-2000:]
    return out


def test_wide_build_files_and_rtl_simulation(wide):
    manifest = json.loads((wide / "rtl" / "rtl.json").read_text())
    assert manifest["layout"]["stream_bits"] == BITS and WIDE_ADAPTER.name in manifest["sources"]
    adapter = manifest["plan"]["units"][0]
    assert adapter["pi"] == BITS // 8 and adapter["cycles"] == 625  # max(313 beats, 625 pixels); 2,500 at 8 bits
    assert f"input  logic [{BITS - 1}:0] s_axis_tdata" in (wide / "rtl" / "sqznet_top.sv").read_text()
    bd = (wide / "vivado" / "block_design.tcl").read_text()
    assert f"c_m_axis_mm2s_tdata_width {{{BITS}}}" in bd and f"c_m_axi_mm2s_data_width {{{BITS}}}" in bd
    assert "c_s_axis_s2mm_tdata_width {32}" in bd
    assert f"ap_axiu<{BITS}, 0, 0, 0> sqz_in_beat" in (wide / "hls" / "firmware" / "sqznet_axis.h").read_text()
    proc = run_cli("rtlsim", "--build", wide, "--images", 4, "--json")
    assert proc.returncode == 0, proc.stderr[-2000:]
    res = json.loads(proc.stdout.splitlines()[-1])
    assert res["exact"] and res["cycles_per_frame"] < 2500  # faster than the 8-bit input allows


def test_driver_unchanged_through_wide_dma_and_standin(wide):
    proc = run_cli("validate", "--build", wide, "--on", "rtl", "--batches", "1,3", "--json")
    assert proc.returncode == 0, proc.stderr[-2000:]
    res = json.loads(proc.stdout.splitlines()[-1])
    assert res["exact"] and res["transfers"] == {"mm2s": 2, "s2mm": 2}
    proc = subprocess.run([sys.executable, "validate.py", "--csim", "--json"], cwd=wide / "deploy",
                          capture_output=True, text=True, timeout=600)
    assert proc.returncode == 0, proc.stderr[-2000:]
    assert json.loads(proc.stdout.splitlines()[-1])["exact"]


def test_unpadded_buffer_rejected(wide, tmp_path):
    """Known-wrong: a driver that does not pad frames to whole beats. One 2,500-byte frame ends in a
    partial 64-bit beat (TKEEP 0x0f), which the accelerator's s_axis (no TKEEP) cannot take."""
    d = tmp_path / "build"
    shutil.copytree(wide, d, ignore=shutil.ignore_patterns("rtlsim", "hls", "deploy.tar.gz", "report*"))
    lay = d / "deploy" / "sqzfpga_driver" / "layout.py"
    text = lay.read_text()
    assert "pad = layout.in_bytes - layout.in_values" in text
    lay.write_text(text.replace("pad = layout.in_bytes - layout.in_values", "pad = 0"))
    proc = run_cli("validate", "--build", d, "--on", "rtl", "--batches", "1")
    msg = assert_clean_error(proc)
    assert re.search(r"partial 64-bit beat \(TKEEP 0xf", msg) and "s_axis has no TKEEP" in msg, msg


def test_plan_reports_the_width_and_rejects_a_bad_one(wide):
    proc = run_cli("plan", "--build", wide, "--json")
    assert proc.returncode == 0, proc.stderr[-2000:]
    res = json.loads(proc.stdout.splitlines()[-1])
    assert res["stream_bits"] == 32  # input-bound at 8 bits (2,500 cycles); 32 reaches one pixel a cycle
    proc = run_cli("plan", "--build", wide, "--stream-bits", 8, "--json")
    res8 = json.loads(proc.stdout.splitlines()[-1])
    assert res8["cycles_per_frame"] == 2500 and res8["bottleneck"] == "input" and res["cycles_per_frame"] < 2500
    assert_clean_error(run_cli("plan", "--build", wide, "--stream-bits", 12), "--stream-bits 12", "8, 32, 64, 128")


def test_package_older_than_the_rtl_refused(wide, tmp_path):
    """`rtl --stream-bits` rewrites rtl/ only: `validate --on rtl` then refuses the package (its layout
    says 64-bit beats, the RTL takes 32) with one line saying how to write it again."""
    d = tmp_path / "build"
    shutil.copytree(wide, d, ignore=shutil.ignore_patterns("rtlsim", "validate_rtl", "deploy.tar.gz", "report*"))
    proc = run_cli("rtl", "--build", d, "--stream-bits", 32, "--json")
    assert proc.returncode == 0, proc.stderr[-2000:]
    assert json.loads(proc.stdout.splitlines()[-1])["stream_bits"] == 32
    assert_clean_error(run_cli("validate", "--build", d, "--on", "rtl", "--batches", "1"),
                       "64-bit input stream", "(rtl/rtl.json, 32-bit)", "--start-step project")
