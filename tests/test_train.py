"""Resuming from the checkpoint written after calibration continues exactly where the run stopped."""
from pathlib import Path

import pytest
import torch

from sqzfpga.model import checkpoint, data
from sqzfpga.model.config import preset
from sqzfpga.model.train import TrainOptions, resume_state, train


class Interrupt:
    """A log callback that raises KeyboardInterrupt (as Ctrl-C would) when a message appears."""

    def __init__(self, trigger: str):
        self.trigger = trigger

    def __call__(self, msg: str):
        if msg.startswith(self.trigger):
            raise KeyboardInterrupt


@pytest.mark.slow
def test_resume_after_calibration_matches_uninterrupted(fmnist_dir, tmp_path):
    cfg = preset("default", width_mult=0.125)
    tr = data.load(fmnist_dir, "train").subset(512)
    te = data.load(fmnist_dir, "test").subset(128)
    opts = TrainOptions(epochs=1, quantize=True, qat_epochs=2, batch_size=64, progress=False)
    ref = tmp_path / "ref.pt"
    train(cfg, tr, te, ref, opts, log=lambda m: None)

    out = tmp_path / "run.pt"
    with pytest.raises(KeyboardInterrupt):
        train(cfg, tr, te, out, opts, log=Interrupt("qat epoch 1/2"))
    state = resume_state(out)
    assert (state["train_state"]["phase"], state["train_state"]["epoch"]) == ("qat", 0)
    train(cfg, tr, te, out, TrainOptions(**state["train_state"]["options"]), state=state, log=lambda m: None)
    a, b = checkpoint.read(ref)["state_dict"], checkpoint.read(out)["state_dict"]
    assert a.keys() == b.keys() and all(torch.equal(a[k], b[k]) for k in a)


def test_resume_refuses_finished_and_bare_checkpoints(tmp_path):
    from sqzfpga.errors import UserError
    from sqzfpga.model.squeezenet import SqueezeNet

    done = tmp_path / "done.pt"
    checkpoint.save(done, SqueezeNet(preset("default", width_mult=0.125)))
    with pytest.raises(UserError, match="finished checkpoint"):
        resume_state(done)
    bare = tmp_path / "bare.pt"
    torch.save({"w": torch.zeros(1)}, bare)
    with pytest.raises(UserError, match="bare state_dict"):
        resume_state(bare)
    with pytest.raises(UserError, match="does not exist"):
        resume_state(Path(tmp_path / "none.pt"))


def test_qat_fine_tuning_of_a_quantized_checkpoint(fmnist_dir, tmp_path):
    from sqzfpga.errors import UserError

    cfg = preset("default", width_mult=0.125)
    tr = data.load(fmnist_dir, "train").subset(256)
    te = data.load(fmnist_dir, "test").subset(64)
    first = tmp_path / "q.pt"
    train(cfg, tr, te, first, TrainOptions(epochs=1, quantize=True, batch_size=64, progress=False), log=lambda m: None)
    tuned = tmp_path / "tuned.pt"
    opts = TrainOptions(epochs=0, quantize=True, qat_epochs=1, batch_size=64, progress=False)
    train(cfg, tr, te, tuned, opts, init=str(first), log=lambda m: None)
    before, after = checkpoint.read(first), checkpoint.read(tuned)
    assert [h["phase"] for h in after["meta"]["history"]] == ["float", "calibration", "qat"]
    assert after["meta"]["float_accuracy"] == before["meta"]["float_accuracy"]
    w = "features.3.squeeze.weight"
    assert not torch.equal(before["state_dict"][w], after["state_dict"][w])
    with pytest.raises(UserError, match="--epochs 0 --quantize"):
        train(cfg, tr, te, tmp_path / "x.pt", TrainOptions(epochs=1, quantize=True), init=str(first))


def test_recipe_gives_short_runs_smaller_batches_and_no_crops():
    """0.01 s. The batch size halves (down to 32) until the run has MIN_STEPS steps; crops only for long
    runs; what the user chose is kept."""
    from sqzfpga.model.train import MIN_STEPS, recipe

    assert recipe(23, 60000, None, None) == (128, 2)  # the default model's run: 10,787 steps
    assert recipe(4, 8000, None, None) == (32, 0)  # the short budget: 1,000 steps
    assert recipe(4, 12000, None, None) == (64, 0) and 4 * -(-12000 // 64) >= MIN_STEPS > 4 * -(-12000 // 128)
    assert recipe(1, 100, None, None) == (32, 0)  # as small as batches go
    assert recipe(4, 8000, 128, 2) == (128, 2)
    assert recipe(0, 8000, None, None) == (128, 0)  # nothing trained (calibration only)


def test_batchnorm_init_mismatch_is_one_line(fmnist_dir, tmp_path):
    """A float checkpoint trained without BatchNorm into a model with it: one line naming the option."""
    from sqzfpga.errors import UserError

    tr = data.load(fmnist_dir, "train").subset(64)
    plain = tmp_path / "plain.pt"
    train(preset("default", width_mult=0.125, batchnorm=False), tr, tr, plain,
          TrainOptions(epochs=1, progress=False), log=lambda m: None)
    with pytest.raises(UserError, match="trained without BatchNorm, this model is with; add --no-batchnorm"):
        train(preset("default", width_mult=0.125), tr, tr, tmp_path / "x.pt", TrainOptions(epochs=1, progress=False),
              init=str(plain), log=lambda m: None)


@pytest.mark.slow
def test_batchnorm_is_folded_before_quantization_cli(tmp_path):
    """About 25 s on quiet cores (137 s at load 6). `train --preset default` trains with BatchNorm (the
    recipe's default) and quantizes it folded: the quantized checkpoint and its QONNX export have none, and the export computes what the
    checkpoint computes."""
    import json

    import numpy as np
    import onnx

    from conftest import DATA, run_cli
    from sqzfpga.model import reference
    from sqzfpga.model.evaluate import predict

    ckpt, onnx_path = tmp_path / "bn.pt", tmp_path / "bn.onnx"
    proc = run_cli("train", "--preset", "default", "--width-mult", "0.125", "--data", DATA, "--limit", 256,
                   "--test-limit", 64, "--epochs", 1, "--quantize", "--out", ckpt, "--json")
    assert proc.returncode == 0, proc.stderr
    assert "recipe: batch size 32, crop padding 0 px" in proc.stderr + proc.stdout
    raw = torch.load(ckpt, weights_only=False)
    assert raw["config"]["batchnorm"] is True and raw["quantized"] is True
    assert not any(".bn." in k for k in raw["state_dict"])
    assert run_cli("export", "--model", ckpt, "--out", onnx_path).returncode == 0
    model = onnx.load(str(onnx_path))
    assert "BatchNormalization" not in {n.op_type for n in model.graph.node}
    images = data.load(DATA, "test").images[:16]
    qmodel, _ = checkpoint.load_model(ckpt)
    np.testing.assert_array_equal(reference.run(reference.load(onnx_path), images), predict(qmodel, images))
    assert json.loads(proc.stdout.strip().splitlines()[-1])["quantized"] is True
