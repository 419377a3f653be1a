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
