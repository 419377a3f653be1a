"""The command line as a user drives it: help, training, resume after Ctrl-C, bad input."""
import json
import signal
import subprocess
import sys
import time

import pytest
import torch

from conftest import ROOT, assert_clean_error, image_folder, run_cli
from sqzfpga.model import checkpoint

COMMANDS = ["train", "eval", "export", "build", "plan", "rtl", "rtlsim", "synth", "deploy", "validate"]
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


def test_train_one_epoch_on_2000_images(fmnist_dir, tmp_path):
    out = tmp_path / "m.pt"
    proc = run_cli("train", "--data", fmnist_dir, "--out", out, "--limit", 2000, "--test-limit", 500,
                   "--epochs", 1, "--quantize", "--qat-epochs", 1, "--width-mult", "0.5", "--json")
    assert proc.returncode == 0, proc.stderr
    summary = json.loads(proc.stdout.strip().splitlines()[-1])
    assert summary["quantized"] and 0.0 <= summary["accuracy"] <= 1.0
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


def test_ctrl_c_keeps_checkpoint_and_resume_matches_uninterrupted(fmnist_dir, tmp_path):
    ref = tmp_path / "ref.pt"
    assert run_cli(*_train_args(fmnist_dir, ref, 3)).returncode == 0

    out = tmp_path / "run.pt"
    proc = subprocess.Popen([sys.executable, "-m", "sqzfpga", *map(str, _train_args(fmnist_dir, out, 3))],
                            cwd=ROOT, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
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
