"""The command line as a user drives it: help, training, resume after Ctrl-C, bad input."""
import json
import signal
import subprocess
import sys
import time

import pytest
import torch

from conftest import ROOT, as_from_a_terminal, assert_clean_error, image_folder, run_cli
from sqzfpga.model import checkpoint

COMMANDS = ["train", "eval", "export", "build", "plan", "rtl", "rtlsim", "synth", "timing", "deploy", "validate"]
TINY = ["--width-mult", "0.125"]


def test_help_lists_commands():
    proc = run_cli("--help")
    assert proc.returncode == 0
    for cmd in COMMANDS:
        assert cmd in proc.stdout


@pytest.mark.parametrize("cmd", COMMANDS)
def test_each_command_has_help(cmd):
    proc = run_cli(cmd, "--help")
    assert proc.returncode == 0 and "--json" in proc.stdout


@pytest.mark.slow
def test_train_one_epoch_on_2000_images(fmnist_dir, tmp_path):
    out = tmp_path / "m.pt"
    proc = run_cli("train", "--data", fmnist_dir, "--out", out, "--limit", 2000, "--test-limit", 500,
                   "--epochs", 1, "--quantize", "--qat-epochs", 1, "--width-mult", "0.5", "--json")
    assert proc.returncode == 0, proc.stderr
    summary = json.loads(proc.stdout.strip().splitlines()[-1])
    assert summary["quantized"] and 0.0 <= summary["accuracy"] <= 1.0
    assert summary["collapsed"] is None and "warning" not in proc.stderr  # it learned: no collapse reported
    model, ckpt = checkpoint.load_model(out)
    assert model.quantized and "train_state" not in ckpt
    phases = [h["phase"] for h in ckpt["meta"]["history"]]
    assert phases == ["float", "calibration", "qat"]
    assert ckpt["meta"]["history"][-1]["test_acc"] == summary["accuracy"]
    # the saved checkpoint is the model that was measured
    proc = run_cli("eval", "--model", out, "--data", fmnist_dir, "--limit", 500, "--json")
    assert proc.returncode == 0, proc.stderr
    assert json.loads(proc.stdout.splitlines()[-1])["accuracy"] == pytest.approx(summary["accuracy"])


def _train_args(fmnist_dir, out, epochs):
    return ["train", "--data", fmnist_dir, "--out", out, "--limit", 1024, "--test-limit", 200,
            "--epochs", epochs, "--batch-size", 64, *TINY]


@pytest.mark.slow
def test_ctrl_c_keeps_checkpoint_and_resume_matches_uninterrupted(fmnist_dir, tmp_path):
    ref = tmp_path / "ref.pt"
    assert run_cli(*_train_args(fmnist_dir, ref, 3)).returncode == 0

    out = tmp_path / "run.pt"
    proc = subprocess.Popen([sys.executable, "-m", "sqzfpga", *map(str, _train_args(fmnist_dir, out, 3))],
                            cwd=ROOT, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
                            preexec_fn=as_from_a_terminal)
    deadline = time.time() + 300
    while not out.exists() and time.time() < deadline and proc.poll() is None:
        time.sleep(0.05)
    assert out.exists(), "no checkpoint written after the first epoch"
    proc.send_signal(signal.SIGINT)
    _, err = proc.communicate(timeout=120)
    if proc.returncode == 0:
        pytest.skip("training finished before the interrupt arrived")  # machine far faster than expected
    assert proc.returncode == 130 and "Traceback" not in err, err
    ckpt = checkpoint.read(out)  # intact and loadable
    assert ckpt["train_state"]["phase"] == "float" and 1 <= ckpt["train_state"]["epoch"] < 3
    assert not [p for p in tmp_path.iterdir() if p.name.endswith(".tmp")]

    proc = run_cli("train", "--data", fmnist_dir, "--out", out, "--limit", 1024, "--test-limit", 200,
                   "--epochs", 3, "--batch-size", 64, "--resume")
    assert proc.returncode == 0, proc.stderr
    a, b = checkpoint.read(ref)["state_dict"], checkpoint.read(out)["state_dict"]
    assert all(torch.equal(a[k], b[k]) for k in a), "resumed run differs from the uninterrupted one"


# ---- bad input: one clear line, non-zero exit, no traceback ----------------------------------------
def test_checkpoint_of_other_architecture(tmp_path, fmnist_dir):
    from sqzfpga.model.config import preset
    from sqzfpga.model.squeezenet import SqueezeNet
    other = tmp_path / "v10.pt"
    checkpoint.save(other, SqueezeNet(preset("v1.0", num_classes=10, in_channels=1, mean=(0.2860,), std=(0.3530,))))
    line = assert_clean_error(run_cli("train", "--data", fmnist_dir, "--out", tmp_path / "x.pt", "--init", other,
                                      "--epochs", 0, "--quantize"), "v10.pt", "architecture")
    assert "expected" in line


def test_unknown_part():
    assert_clean_error(run_cli("build", "--part", "xc9z999"), "xc9z999", "xc7z020")


def test_calibrate_torchvision_state_dict_on_image_folder(tmp_path):
    """PTQ of a torchvision-layout v1.1 state_dict, calibrated on an image folder, then evaluated."""
    from test_models import torchvision_state_dict

    sd = {k: v * 0.05 for k, v in torchvision_state_dict("v1.1").items()}
    torch.save(sd, tmp_path / "squeezenet1_1.pth")
    image_folder(tmp_path / "imgs")
    out = tmp_path / "q.pt"
    proc = run_cli("train", "--preset", "v1.1", "--init", tmp_path / "squeezenet1_1.pth", "--epochs", 0,
                   "--quantize", "--data", tmp_path / "imgs", "--out", out, "--json")
    assert proc.returncode == 0, proc.stderr
    model, ckpt = checkpoint.load_model(out)
    assert model.quantized and model.cfg.num_classes == 1000 and model.cfg.input_size == 224
    # the float weights arrived (conv1 folded with ImageNet normalisation, the rest unchanged)
    w = model.features[3].squeeze.weight.detach()
    assert torch.equal(w, sd["features.3.squeeze.weight"])
    assert [h["phase"] for h in ckpt["meta"]["history"]] == ["calibration"]


def test_init_with_other_normalisation_is_refused(tmp_path, fmnist_dir):
    from sqzfpga.model.config import preset
    from sqzfpga.model.squeezenet import SqueezeNet
    other = tmp_path / "norm.pt"
    checkpoint.save(other, SqueezeNet(preset("default", mean=(0.5,), std=(0.25,))))
    assert_clean_error(run_cli("train", "--data", fmnist_dir, "--out", tmp_path / "x.pt", "--init", other,
                               "--epochs", 0, "--quantize"), "norm.pt", "normalisation")


def test_no_command_overwrites_the_shipped_model(tmp_path, fmnist_dir):
    """`train`/`export --out` into sqzfpga/model/default/ (as a user might, to "update" the default) is
    one error line and leaves the shipped files byte for byte; a file of the wrong kind is refused too."""
    import hashlib

    from sqzfpga.model.checkpoint import DEFAULT_DIR

    def shipped():
        return {p.name: hashlib.sha256(p.read_bytes()).hexdigest() for p in sorted(DEFAULT_DIR.iterdir()) if p.is_file()}

    before = shipped()
    assert "model.pt" in before
    assert_clean_error(run_cli("train", "--data", fmnist_dir, "--out", "sqzfpga/model/default/model.pt", "--limit", 64,
                               "--epochs", 1), "model shipped with sqzfpga", "no command overwrites")
    assert_clean_error(run_cli("export", "--out", "sqzfpga/model/default/model.onnx"), "model shipped with sqzfpga")
    assert_clean_error(run_cli("export", "--out", tmp_path / "m.pt"), "is a .onnx file", "--out m.onnx")
    assert_clean_error(run_cli("train", "--data", fmnist_dir, "--out", tmp_path / "m.onnx", "--limit", 64),
                       "is a .pt or .pth file")
    assert shipped() == before
    assert not (tmp_path / "m.pt").exists() and not (tmp_path / "m.onnx").exists()


def test_eval_refuses_labels_beyond_the_models_classes(tmp_path):
    """The default model scores 10 classes; a dataset with 11 would give a meaningless accuracy."""
    data = image_folder(tmp_path / "eleven", classes=tuple(f"c{i:02d}" for i in range(11)), per_class=1, size=28)
    assert_clean_error(run_cli("eval", "--data", data), "labels go up to 10", "scores 10 classes")
    ok = run_cli("eval", "--data", data, "--limit", 10, "--json")  # the first 10 classes only: fine
    assert ok.returncode == 0 and json.loads(ok.stdout.splitlines()[-1])["images"] == 10, ok.stderr


# ---- rough edges of `train` (issue 18, item 9) ---------------------------------------------------------
def _idx_data(root, labels_train, labels_test=None, seed=0):
    """A tiny IDX dataset of random 28x28 images with the given labels."""
    import numpy as np
    from test_data import write_idx

    rng = np.random.default_rng(seed)
    root.mkdir(parents=True, exist_ok=True)
    for prefix, labels in [("train", labels_train), ("t10k", labels_test if labels_test is not None else labels_train)]:
        write_idx(root / f"{prefix}-images-idx3-ubyte.gz", rng.integers(0, 256, (len(labels), 28, 28)))
        write_idx(root / f"{prefix}-labels-idx1-ubyte.gz", labels)
    return root


def test_single_class_training_data_is_refused(tmp_path):
    """One class teaches a constant: refused, and when --limit made it so, the line says to raise --limit."""
    one = image_folder(tmp_path / "one", classes=("only",), per_class=2, size=28)
    assert_clean_error(run_cli("train", "--data", one, "--out", tmp_path / "m.pt", "--epochs", 1, *TINY),
                       "single class (only)", "at least two classes")
    sorted_labels = _idx_data(tmp_path / "sorted", [0] * 8 + [1] * 8)
    assert_clean_error(run_cli("train", "--data", sorted_labels, "--out", tmp_path / "m.pt", "--limit", 4, *TINY),
                       "single class (0)", "--limit 4")
    assert not (tmp_path / "m.pt").exists()


def test_collapsed_run_and_capped_limit_are_reported(tmp_path):
    """Random images with random labels: nothing to learn, so the loss stays at ln(10) and the accuracy at
    chance; the run says so (warning line, `collapsed` in --json) and names the options to change. The
    --limit beyond the split's 40 images is reported too. About 15 s."""
    import numpy as np

    labels = np.random.default_rng(1).integers(0, 10, 40)
    d = _idx_data(tmp_path / "noise", labels)
    proc = run_cli("train", "--data", d, "--out", tmp_path / "m.pt", "--epochs", 1, "--limit", 1000,
                   "--batch-size", 20, *TINY, "--json")
    assert proc.returncode == 0, proc.stderr
    assert "warning: --limit 1000:" in proc.stderr and "holds only 40 images" in proc.stderr
    summary = json.loads(proc.stdout.splitlines()[-1])
    assert summary["collapsed"] and "--lr" in summary["collapsed"] and "--batch-size" in summary["collapsed"]
    assert f"warning: {summary['collapsed']}" in proc.stderr
    assert checkpoint.read(tmp_path / "m.pt")["meta"]["collapsed"] == summary["collapsed"]


def test_collapse_rule():
    """ln(10) loss with chance accuracy is a collapse; a run whose loss fell, or whose accuracy rose, is not."""
    from sqzfpga.model.train import collapse

    flat = [{"phase": "float", "train_loss": 2.3026, "train_acc": 0.1, "test_acc": 0.1}]
    assert "collapsed to chance" in collapse(flat, 10)
    assert collapse([{**flat[0], "train_loss": 1.2}], 10) is None
    assert collapse([{**flat[0], "test_acc": 0.6}], 10) is None
    assert collapse(flat + [{"phase": "calibration", "epoch": 0, "test_acc": 0.5}], 10) is None
    assert collapse([{"phase": "calibration", "epoch": 0, "test_acc": 0.1}], 10) is None  # no training: no verdict


def test_quantized_init_refuses_other_model_options_and_measures_accuracy_now(tmp_path):
    """A quantized --init keeps its architecture: --preset v1.1 is one error line, not ignored; with
    --epochs 0 the accuracy reported is measured on this --data (the checkpoint's own is of another test
    set), and `eval` of the written checkpoint agrees. About 40 s."""
    a = _idx_data(tmp_path / "a", [i % 10 for i in range(40)])
    b = _idx_data(tmp_path / "b", [i % 10 for i in range(40)], [(3 * i) % 10 for i in range(40)], seed=5)
    q = tmp_path / "q.pt"
    proc = run_cli("train", "--data", a, "--out", q, "--epochs", 1, "--quantize", "--batch-size", 20, *TINY)
    assert proc.returncode == 0, proc.stderr
    out = tmp_path / "tuned.pt"
    line = assert_clean_error(run_cli("train", "--init", q, "--preset", "v1.1", "--epochs", 0, "--quantize",
                                      "--data", b, "--out", out), "--preset v1.1", "keeps its own architecture")
    assert "in_channels 3 asked, 1 in the checkpoint" in line
    assert_clean_error(run_cli("train", "--init", q, "--width-mult", "0.5", "--epochs", 0, "--quantize", "--data", b,
                               "--out", out), "--width-mult 0.5", "width_mult 0.5 asked, 0.125")
    assert not out.exists()
    # options that agree with the checkpoint are fine; the accuracy is this test set's
    proc = run_cli("train", "--init", q, "--preset", "default", *TINY, "--epochs", 0, "--quantize", "--data", b,
                   "--out", out, "--json")
    assert proc.returncode == 0, proc.stderr
    summary = json.loads(proc.stdout.splitlines()[-1])
    assert "measured now on 40 test images" in proc.stderr and "recorded in" in proc.stderr
    assert checkpoint.read(out)["meta"]["history"][-1]["phase"] == "evaluation"
    ev = run_cli("eval", "--model", out, "--data", b, "--json")
    assert ev.returncode == 0, ev.stderr
    assert json.loads(ev.stdout.splitlines()[-1])["accuracy"] == pytest.approx(summary["accuracy"])
