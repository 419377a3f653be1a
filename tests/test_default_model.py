"""The shipped default model: accuracy, size, `build` on it (exact C simulation), bad build inputs."""
import json

import numpy as np
import pytest

from conftest import assert_clean_error, run_cli
from sqzfpga.hls.project import run_testbench
from sqzfpga.model import checkpoint, reference
from sqzfpga.model.checkpoint import DEFAULT_CHECKPOINT, DEFAULT_SAMPLES
from sqzfpga.model.evaluate import predict


@pytest.fixture(scope="module")
def default_build(tmp_path_factory):
    out = tmp_path_factory.mktemp("b") / "build"
    proc = run_cli("build", "--part", "xc7z020", "--out", out, "--json")
    assert proc.returncode == 0, proc.stderr
    return out, proc


def test_default_model_is_quantized_and_fits_bram():
    model, ckpt = checkpoint.load_model(DEFAULT_CHECKPOINT)
    assert model.quantized and model.cfg.in_channels == 1 and model.cfg.num_classes == 10
    bits = sum(m.weight.numel() * model.cfg.weight_bits_of(name) for name, m in model.conv_layers().items())
    assert bits < 0.7 * 140 * 36 * 1024  # comfortably inside an xc7z020's 4.9 Mbit of BRAM
    samples = np.load(DEFAULT_SAMPLES)
    assert samples["images"].shape == (1000, 1, 28, 28) and samples["images"].dtype == np.uint8
    assert DEFAULT_SAMPLES.stat().st_size <= 1_000_000


def test_eval_default_model_json(fmnist_dir):
    proc = run_cli("eval", "--data", fmnist_dir, "--json")
    assert proc.returncode == 0, proc.stderr
    summary = json.loads(proc.stdout.strip().splitlines()[-1])
    assert {"accuracy", "images", "model"} <= set(summary)
    assert summary["images"] == 10_000
    assert summary["accuracy"] >= 0.92


def test_build_default_model_csim_exact(default_build):
    """The README's build: fits the xc7z020, C simulation exact on 200 real images, same accuracy."""
    out, proc = default_build
    summary = json.loads(proc.stdout.strip().splitlines()[-1])
    assert summary["part"] == "xc7z020" and summary["fits"] is True
    assert 0 < summary["memory_bits"] < 280 * 18 * 1024 and 0 <= summary["dsp"] <= 220
    csim = summary["csim"]
    assert csim["images"] >= 200 and csim["exact"] is True and csim["argmax_agreement"] == 1.0
    assert csim["accuracy"] == csim["torch_accuracy"] and csim["accuracy"] > 0.9
    assert "stopped after C simulation" in proc.stderr
    for f in ("build.json", "samples.npz", "model.onnx", "canonical.onnx", "report.md", "hls/build_prj.tcl",
              "hls/firmware/sqznet.cpp", "hls/firmware/nnet_utils/sqz_layers.h", "hls/tb_data/expected.dat"):
        assert (out / f).exists(), f
    # the QONNX in the build equals the Brevitas model on the build's verification images
    samples = np.load(out / "samples.npz")
    model, _ = checkpoint.load_model(DEFAULT_CHECKPOINT)
    np.testing.assert_array_equal(reference.run(reference.load(out / "model.onnx"), samples["images"]),
                                  predict(model, samples["images"]))
    # FIFOs sized from the dataflow, not whole frames
    cpp = (out / "hls" / "firmware" / "sqznet.cpp").read_text()
    assert "depth=784" not in cpp and "depth=31" in cpp


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


def _edited_onnx(out, tmp_path, edit):
    import onnx

    m = onnx.load(str(out / "model.onnx"))
    edit(m)
    path = tmp_path / "edited.onnx"
    onnx.save(m, str(path))
    return path


def _assert_no_build_left(target):
    assert not target.exists()
    assert not [p for p in target.parent.iterdir() if "partial" in p.name]


def test_build_refuses_unsupported_op(default_build, tmp_path):
    out, _ = default_build

    def edit(m):
        relu = next(n for n in m.graph.node if n.op_type == "Relu")
        relu.op_type, relu.name = "Sigmoid", "odd_node"
    target = tmp_path / "b"
    line = assert_clean_error(run_cli("build", "--model", _edited_onnx(out, tmp_path, edit), "--out", target),
                              "odd_node", "Sigmoid", "supported ops:", "Conv")
    _assert_no_build_left(target)


def test_build_refuses_float_scale(default_build, tmp_path):
    out, _ = default_build

    def edit(m):
        from onnx import numpy_helper
        q = [n for n in m.graph.node if n.op_type == "Quant"][3]
        init = next(t for t in m.graph.initializer if t.name == q.input[1])
        init.CopyFrom(numpy_helper.from_array(np.asarray(0.3, dtype=np.float32).reshape(
            numpy_helper.to_array(init).shape), init.name))
    target = tmp_path / "b"
    assert_clean_error(run_cli("build", "--model", _edited_onnx(out, tmp_path, edit), "--out", target),
                       "not a power of two", "Brevitas")
    _assert_no_build_left(target)


def test_build_refuses_model_too_big_for_part(default_build, tmp_path):
    out, _ = default_build
    target = tmp_path / "b"
    line = assert_clean_error(run_cli("build", "--model", out / "model.onnx", "--part", "xc7z010", "--out", target),
                              "does not fit xc7z010", "BRAM18", "fewer weight bits")
    assert "fire8" in line  # names the largest layers
    _assert_no_build_left(target)
