"""examples/own_brevitas.py as a user runs it: a Brevitas SqueezeNet of their own (BatchNorm folded, a
flatten + QuantLinear head, per-channel weights, trained on bytes / 255) trained on a tiny budget,
exported, then built from its ONNX file alone: the preprocessing stated once in the file's metadata
gives a table layer first; the C simulation and the RTL simulation are exact on 20 Fashion-MNIST
images, and the C simulation's scores equal Brevitas's own bit for bit (so the accuracies are equal).
The same export without the metadata is refused in one line. About 55 s on 2 shared cores (the example
15 s, the build to the RTL simulation 36 s, the refusal 3 s)."""
from __future__ import annotations

import json
import subprocess
import sys

import numpy as np
import onnx
import pytest
from onnx import numpy_helper

from conftest import ROOT, assert_clean_error, run_cli

pytest.importorskip("brevitas")
EXAMPLE = ROOT / "examples" / "own_brevitas.py"
IMAGES = 20
pytestmark = pytest.mark.xdist_group("example")  # the module's build (fixture `built`) is made once, on one worker


def run_example(*args, timeout=600) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, str(EXAMPLE), *map(str, args)], cwd=ROOT, capture_output=True, text=True,
                          timeout=timeout)


@pytest.fixture(scope="module")
def built(fmnist_dir, tmp_path_factory):
    """The example on 512 training images (1 float + 1 QAT epoch), its Brevitas scores on the first
    20 t10k images, and its build to the RTL simulation on the same 20 images."""
    folder = tmp_path_factory.mktemp("example")
    model, scores = folder / "own.onnx", folder / "brevitas.npz"
    proc = run_example("--data", fmnist_dir, "--out", model, "--limit", 512, "--epochs", 1, "--qat-epochs", 1,
                       "--test-limit", IMAGES, "--save-outputs", scores)
    assert proc.returncode == 0, proc.stderr[-3000:]
    assert f"python -m sqzfpga build --model {model} --part xc7z020" in proc.stdout
    build = run_cli("build", "--model", model, "--part", "xc7z020", "--out", folder / "build", "--data", fmnist_dir,
                    "--images", IMAGES, "--stop-step", "rtlsim", "--json")
    assert build.returncode == 0, build.stderr[-3000:]
    return model, np.load(scores), folder / "build", json.loads(build.stdout.strip().splitlines()[-1]), proc


def test_example_builds_exact_and_csim_equals_brevitas(built):
    """csim exact, RTL exact, and the C simulation's scores (and accuracy) equal Brevitas's on the same
    images; the reference executor on the export equals Brevitas too."""
    from sqzfpga.model import reference

    model, brevitas, build, summary, proc = built
    assert summary["csim"]["exact"] is True and summary["csim"]["images"] == IMAGES, summary["csim"]
    assert json.loads((build / "rtlsim.json").read_text())["exact"] is True
    samples, csim = np.load(build / "samples.npz"), np.load(build / "csim.npz")
    np.testing.assert_array_equal(samples["labels"], brevitas["labels"])  # the same 20 t10k images
    frac = json.loads((build / "rtl" / "rtl.json").read_text())["output"]["frac"]
    np.testing.assert_array_equal(csim["outputs"] * 2.0 ** -frac, brevitas["scores"])
    np.testing.assert_array_equal(reference.run(reference.load(model), samples["images"]), brevitas["scores"])
    assert np.unique(brevitas["scores"]).size > 8, "outputs are degenerate; the comparison would prove little"
    accuracy = float((brevitas["scores"].argmax(1) == brevitas["labels"]).mean())
    assert summary["csim"]["accuracy"] == accuracy
    assert f"quantized test accuracy {accuracy:.4f} on {IMAGES} t10k images" in proc.stdout


def test_canonical_graph_has_the_table_the_dense_head_and_per_channel_weights(built):
    model, _, build, _, _ = built
    ops = [n.op_type for n in onnx.load(str(build / "canonical.onnx")).graph.node]
    assert ops[0] == "SqzTable" and ops.count("SqzFC") == 1 and "BatchNormalization" not in ops, ops
    exported = onnx.load(str(model))
    assert "BatchNormalization" not in [n.op_type for n in exported.graph.node]
    consts = {t.name: numpy_helper.to_array(t) for t in exported.graph.initializer}
    weight_scales = [consts[n.input[1]] for n in exported.graph.node if n.op_type == "Quant" and "weight" in n.name]
    assert len(weight_scales) == 8, [n.name for n in exported.graph.node if n.op_type == "Quant"]  # 7 convs + fc
    # one scale per output channel, and the channels' scales differ (after one epoch on 512 images a tensor
    # whose channels' ranges are still alike rounds them to one power of two: half of them here, 4 of 8)
    assert all(s.size == s.shape[0] > 1 for s in weight_scales), [s.shape for s in weight_scales]
    assert sum(np.unique(s).size > 1 for s in weight_scales) >= 3, [np.unique(s) for s in weight_scales]
    assert all(np.all(np.exp2(np.round(np.log2(s))) == s) for s in weight_scales)  # powers of two


def test_export_without_its_preprocessing_is_refused(built, tmp_path):
    """Known-wrong: the same file with the metadata stripped would feed raw bytes to a [0, 2) quantizer."""
    model, _, _, _, _ = built
    m = onnx.load(str(model))
    assert {p.key: p.value for p in m.metadata_props}["sqzfpga.input_scale"] == repr(1 / 255)
    del m.metadata_props[:]
    onnx.save(m, str(tmp_path / "bare.onnx"))
    proc = run_cli("build", "--model", tmp_path / "bare.onnx", "--part", "xc7z020", "--out", tmp_path / "b",
                   "--stop-step", "lower")
    assert_clean_error(proc, "input Quant node", "[0, 1.99219] (uint8*2^-7)", "[0, 255]", "--input-scale 1/255")
    assert not (tmp_path / "b").exists()


@pytest.mark.parametrize("args,needle", [
    (("--epochs", "-1"), "--epochs -1: expected 0 or more"),
    (("--out", "model.pt"), "--out model.pt: expected a .onnx file name"),
    (("--data", "no-such-folder"), "--data no-such-folder: not a folder"),
])
def test_bad_arguments_are_one_error_line(tmp_path, fmnist_dir, args, needle):
    opts = {"--data": str(fmnist_dir), "--out": str(tmp_path / "m.onnx")}
    opts.update(dict(zip(args[::2], args[1::2])))
    proc = run_example(*[v for kv in opts.items() for v in kv], timeout=120)
    assert proc.returncode == 2 and "Traceback" not in proc.stderr, proc.stderr
    lines = [ln for ln in proc.stderr.splitlines() if "error:" in ln]
    assert len(lines) == 1 and needle in lines[0], proc.stderr
