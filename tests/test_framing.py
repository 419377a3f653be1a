"""The batch protocol of driver/layout.py at both accelerator tops, and the time limits of the RTL
simulation, on a small generated design (a kept fuzz example, 14x14x4 in, 2 words out; built once).

- HLS top: the C-simulation stand-in pushes a buffer as ONE MM2S transfer and demands TLAST exactly
  once, on the final word; the driver + stand-in path (`validate.py --csim`) stays exact; the old
  top (TLAST on every frame) is rejected, naming frame and word.
- RTL top: `rtlsim` sends the images as one transfer and checks TLAST once, on the final word; several
  transfers back to back, with stalls, each end with TLAST; a mutant raising TLAST on every frame (the
  old behaviour) fails with one error line; a mutant that stops taking input (a deadlock) makes `rtlsim`
  exit with one error line naming the stalled stream, in well under two minutes.
"""
from __future__ import annotations

import json
import shutil
import subprocess
import sys
import time

import numpy as np
import pytest

from conftest import ROOT, assert_clean_error, run_cli
from sqzfpga.driver.layout import Layout, pack
from sqzfpga.driver.standin import compile_sources

pytestmark = pytest.mark.xdist_group("framing")  # one small build shared by this module's tests
MODEL = ROOT / "tests" / "fuzz_regressions" / "gap_narrow_numerator_small.onnx"


@pytest.fixture(scope="module")
def tiny(tmp_path_factory):
    out = tmp_path_factory.mktemp("framing") / "build"
    proc = run_cli("build", "--model", MODEL, "--images", 4, "--board", "pynq-z2", "--out", out, "--json")
    assert proc.returncode == 0, proc.stderr[-2000:]
    return out


@pytest.fixture(scope="module")
def mutant(tiny, tmp_path_factory):
    """A copy of the build whose RTL top is `sqznet_top` wrapped: output TLAST on every frame's last
    word (the old top), and input ready forced low after 2.5 frames (a deadlock, reached with more
    than 2 images). One design, so Verilator compiles it once for both tests."""
    d = tmp_path_factory.mktemp("mutant") / "build"
    shutil.copytree(tiny, d, ignore=shutil.ignore_patterns("rtlsim", "deploy*", "hls", "vivado"))
    manifest = json.loads((d / "rtl" / "rtl.json").read_text())
    lay = Layout.from_dict(manifest["layout"])
    words, stop_after = lay.out_words, lay.in_bytes * 5 // 2
    (d / "rtl" / "sqznet_mutant.sv").write_text(f"""
module sqznet_mutant (
    input  logic ap_clk, ap_rst_n, input logic [7:0] s_axis_tdata, input logic s_axis_tvalid,
    output logic s_axis_tready, input logic s_axis_tlast, output logic [31:0] m_axis_tdata,
    output logic m_axis_tvalid, input logic m_axis_tready, output logic m_axis_tlast);
  logic [31:0] n_in, n_out;
  logic live, ready, tlast;  // tlast: the real top's, unused
  assign live = n_in < 32'd{stop_after};
  assign s_axis_tready = ready && live;
  assign m_axis_tlast = n_out % {words} == {words - 1};
  sqznet_top dut (.ap_clk, .ap_rst_n, .s_axis_tdata, .s_axis_tvalid(s_axis_tvalid && live), .s_axis_tready(ready),
                  .s_axis_tlast, .m_axis_tdata, .m_axis_tvalid, .m_axis_tready, .m_axis_tlast(tlast));
  always_ff @(posedge ap_clk)
    if (!ap_rst_n) begin n_in <= 0; n_out <= 0; end
    else begin
      if (s_axis_tvalid && s_axis_tready) n_in <= n_in + 1;
      if (m_axis_tvalid && m_axis_tready) n_out <= n_out + 1;
    end
endmodule
""")
    manifest["top"], manifest["sources"] = "sqznet_mutant", manifest["sources"] + ["sqznet_mutant.sv"]
    (d / "rtl" / "rtl.json").write_text(json.dumps(manifest))
    return d, lay


def test_hls_standin_one_transfer_tlast_once(tiny, tmp_path):
    dep = tiny / "deploy"
    meta = json.loads((dep / "accel.json").read_text())
    proc = subprocess.run([sys.executable, "validate.py", "--csim", "--json"], cwd=dep, capture_output=True, text=True,
                          timeout=300)
    assert proc.returncode == 0, proc.stderr
    res = json.loads(proc.stdout.splitlines()[-1])
    assert res["exact"] and res["images"] == 4, res

    # the old top, TLAST on every frame's last word, against the same stand-in
    prj, mut = tiny / "hls", tmp_path / "sqznet_axis.cpp"
    src = (prj / "firmware" / "sqznet_axis.cpp").read_text()
    assert src.count("bool batch_end = last.read();") == 1
    mut.write_text(src.replace("bool batch_end = last.read();", "last.read(); bool batch_end = true;"))
    exe = tmp_path / "old_csim"
    subprocess.run(["g++", "-O2", "-std=c++14", f"-I{prj / 'firmware' / 'ap_types'}", f"-I{prj}",
                    f"-I{prj / 'firmware'}", str(prj / "sqznet_axis_standin.cpp"), str(mut),
                    str(prj / "firmware" / "sqznet.cpp"), "-o", str(exe)], check=True, timeout=600)
    lay = Layout.from_dict(meta["layout"])
    pack(np.load(dep / "samples.npz")["images"][:3], lay).tofile(tmp_path / "in.bin")
    words = lay.out_words
    good = subprocess.run([str(compile_sources(dep / meta["standin"])), str(tmp_path / "in.bin"),
                           str(tmp_path / "good.bin")],
                          cwd=dep / "csim", capture_output=True, text=True, timeout=60)
    assert good.returncode == 0, good.stderr
    old = subprocess.run([str(exe), str(tmp_path / "in.bin"), str(tmp_path / "old.bin")], cwd=dep / "csim",
                         capture_output=True, text=True, timeout=60)
    assert old.returncode == 1, old.stderr
    assert f"frame 0 word {words - 1}: TLAST high" in old.stderr and "exactly once" in old.stderr, old.stderr


def test_rtl_one_transfer_and_batches(tiny):
    """`rtlsim` (4 images, one transfer), then transfers of 1 and 3 frames back to back with stalls
    on both streams: exact, TLAST where the protocol puts it (the bench fails otherwise)."""
    from sqzfpga.sim import rtlsim

    proc = run_cli("rtlsim", "--build", tiny, "--images", 4, "--json", timeout=600)
    assert proc.returncode == 0, proc.stderr[-2000:]
    assert json.loads(proc.stdout.splitlines()[-1])["exact"]
    cs = np.load(tiny / "csim.npz")
    res = rtlsim.run_network(tiny / "rtl", tiny / "rtlsim", cs["images"][:4], stall=0.3, seed=3, batches=[1, 3])
    np.testing.assert_array_equal(np.asarray(res["outputs"]), cs["outputs"][:4].reshape(4, -1))


def test_rtl_deadlock_one_error_line_in_time(mutant):
    """Compile included: `rtlsim` on a design that stops taking input, one error line, < 2 minutes."""
    d, _ = mutant
    t0 = time.time()
    proc = run_cli("rtlsim", "--build", d, "--images", 4, timeout=300)
    took = time.time() - t0
    line = assert_clean_error(proc, "deadlock", "(2 of 4 frames), the design stopped taking input (s_axis_tready low)",
                              "m_axis: 4 of 8 words out")
    assert proc.returncode == 2 and took < 120, (proc.returncode, took, line)


def test_rtl_tlast_on_every_frame_is_rejected(mutant):
    """2 images (no deadlock yet): the old top's TLAST after frame 0 would end the S2MM transfer there."""
    d, lay = mutant
    proc = run_cli("rtlsim", "--build", d, "--images", 2, timeout=600)
    assert_clean_error(proc, f"m_axis_tlast high on word {lay.out_words - 1} of frame 0", "final word of each transfer")
