"""The shipped default model: accuracy, size, and `build` on it (export exact with Brevitas)."""
import json

import numpy as np
import pytest

from conftest import assert_clean_error, run_cli
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


def test_build_writes_qonnx_exact_with_brevitas(default_build):
    out, proc = default_build
    summary = json.loads(proc.stdout.strip().splitlines()[-1])
    assert summary["part"].startswith("xc7z020")
    assert "stopped after QONNX export" in proc.stderr
    assert (out / "build.json").exists() and (out / "samples.npz").exists()
    samples = np.load(out / "samples.npz")
    model, _ = checkpoint.load_model(DEFAULT_CHECKPOINT)
    expected = predict(model, samples["images"])
    got = reference.run(reference.load(out / "model.onnx"), samples["images"])
    np.testing.assert_array_equal(got, expected)
    assert (got.argmax(1) == samples["labels"]).mean() > 0.9


def test_failed_build_keeps_previous_build(default_build, tmp_path):
    out, _ = default_build
    before = sorted(p.name for p in out.iterdir())
    bad = tmp_path / "broken.pt"
    bad.write_bytes(b"junk")
    assert_clean_error(run_cli("build", "--model", bad, "--out", out), "broken.pt")
    assert sorted(p.name for p in out.iterdir()) == before
    assert not [p for p in out.parent.iterdir() if "partial" in p.name]
