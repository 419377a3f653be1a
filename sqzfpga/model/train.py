"""Training: float, post-training calibration, quantization-aware fine-tuning, resumable.

One run goes float epochs -> quantize (fold normalisation, calibrate) -> QAT epochs, writing an atomic
checkpoint after every epoch; `resume` continues from the phase and epoch stored there, with the
same random streams, so an interrupted run ends where an uninterrupted one would.
"""
from __future__ import annotations

import math
import time
from dataclasses import asdict, dataclass, replace
from pathlib import Path

import numpy as np
import torch
import torch.nn as nn
from tqdm import tqdm

from sqzfpga.errors import UserError
from sqzfpga.model import checkpoint
from sqzfpga.model.config import ModelConfig
from sqzfpga.model.data import Dataset
from sqzfpga.model.evaluate import accuracy
from sqzfpga.model.squeezenet import SqueezeNet


LONG_RUN_EPOCHS = 10  # from this many epochs on, random crops pay off (they regularise); shorter runs only lose fit
MIN_STEPS = 600  # optimizer steps a run gets at least, by smaller batches (down to 32)


def recipe(epochs: int, n_train: int, batch_size: int | None, crop_pad: int | None) -> tuple[int, int]:
    """Batch size and crop padding for a run of `epochs` (float + QAT) over `n_train` images, where the
    user gave none: 128 and 2-pixel crops for long runs; a short run gets smaller batches, so that it
    takes enough steps, and no crops. Measured on 8,000 Fashion-MNIST images, 3 float epochs, BN:
    float accuracy 0.80 with 128 and crops, 0.84 with 128 without, 0.86 with 64, 0.87 with 32."""
    if batch_size is None:
        batch_size = 128
        while epochs and batch_size > 32 and epochs * math.ceil(n_train / batch_size) < MIN_STEPS:
            batch_size //= 2
    if crop_pad is None:
        crop_pad = 2 if epochs >= LONG_RUN_EPOCHS else 0
    return batch_size, crop_pad


@dataclass
class TrainOptions:
    epochs: int = 15
    quantize: bool = False
    qat_epochs: int = 0
    lr: float = 2e-3
    qat_lr: float = 1e-4
    weight_decay: float = 5e-4
    batch_size: int | None = None  # None: the recipe's (see `recipe`), fixed when the run starts
    seed: int = 0
    crop_pad: int | None = None
    flip: bool = True
    calib_batches: int = 20
    progress: bool = True
    limit: int | None = None  # training images used (recorded so that --resume uses the same data)
    test_limit: int | None = None


def train(cfg: ModelConfig, train_set: Dataset, test_set: Dataset, out: Path, opts: TrainOptions,
          init: str | None = None, state: dict | None = None, log=print) -> dict:
    """Run (or, given the `resume_state` of `out`, continue) float -> calibration -> QAT training."""
    if opts.batch_size is None or opts.crop_pad is None:  # a resumed run has both, as it started
        epochs = opts.epochs + (opts.qat_epochs if opts.quantize else 0)
        bs, crop = recipe(epochs, len(train_set), opts.batch_size, opts.crop_pad)
        log(f"recipe: batch size {bs}, crop padding {crop} px for {epochs} epochs over {len(train_set)} images "
            "(--batch-size and --crop-pad choose others)")
        opts = replace(opts, batch_size=bs, crop_pad=crop)
    torch.manual_seed(opts.seed)
    rng = np.random.default_rng(opts.seed)
    history = state["meta"].get("history", []) if state else []
    init_ckpt = checkpoint.read(init) if init and not state else None
    init_quant = init_ckpt if init_ckpt and init_ckpt.get("quantized") else None
    if init_quant is not None:  # QAT fine-tuning of a quantized checkpoint: no float phase, no calibration
        if opts.epochs or not opts.quantize:
            raise UserError(f"--init {init}: is a quantized checkpoint; fine-tune it with --epochs 0 --quantize "
                            "--qat-epochs N")
        history = list(init_quant.get("meta", {}).get("history", []))

    # ---- float phase --------------------------------------------------------------------------
    model = SqueezeNet(cfg)
    if state and state["train_state"]["phase"] == "float":
        checkpoint.load_weights(model, state["state_dict"], out)
        _restore_rng(state, rng)
    elif init_ckpt is not None and init_quant is None:
        if "config" in init_ckpt:
            init_cfg = checkpoint.config_of(init_ckpt, init)
            if (init_cfg.mean, init_cfg.std) != (cfg.mean, cfg.std):
                raise UserError(f"--init {init}: trained with input mean/std {init_cfg.mean}/{init_cfg.std}, this "
                                f"model uses {cfg.mean}/{cfg.std}; quantizing would fold the wrong normalisation; "
                                "use the same --preset as the checkpoint")
            if init_cfg.batchnorm != cfg.batchnorm and replace(init_cfg, batchnorm=cfg.batchnorm) == cfg:
                # the one difference (another architecture: load_weights names it)
                have, want = ("with", "without") if init_cfg.batchnorm else ("without", "with")
                raise UserError(f"--init {init}: trained {have} BatchNorm, this model is {want}; add "
                                f"--{'' if init_cfg.batchnorm else 'no-'}batchnorm to match the checkpoint")
        checkpoint.load_weights(model, _float_part(init_ckpt["state_dict"]), init)
    float_done = state["train_state"]["epoch"] if state and state["train_state"]["phase"] == "float" else 0
    if state and state["train_state"]["phase"] == "qat":
        float_done = opts.epochs
    if float_done < opts.epochs:
        _fit(model, train_set, test_set, out, opts, rng, phase="float", start=float_done, epochs=opts.epochs,
             lr=opts.lr, state=state, history=history, log=log)
    float_acc = history[-1]["test_acc"] if history and history[-1]["phase"] == "float" else None
    if init_quant is not None:
        float_acc = init_quant.get("meta", {}).get("float_accuracy")
        log(f"float accuracy {_fmt(float_acc)}: recorded in {init} (its float model is not in it), not measured now")
    if not opts.quantize:
        if float_acc is None:  # --init with --epochs 0: measured on this run's test set
            float_acc = _measured(model, test_set, history, log, "float")
        return _finish(out, model, history, float_acc, None, cfg, log)

    # ---- quantize: fold, calibrate, QAT ----------------------------------------------------------
    from sqzfpga.model.quant import build_quant, calibrate, quantize_float

    if state and state["train_state"]["phase"] == "qat":
        qmodel = build_quant(cfg)
        checkpoint.load_weights(qmodel, state["state_dict"], out)
        _restore_rng(state, rng)
        qat_done = state["train_state"]["epoch"]
        float_acc = state["meta"].get("float_accuracy")
    elif init_quant is not None:
        qmodel = build_quant(cfg)
        checkpoint.load_weights(qmodel, init_quant["state_dict"], init)
        qat_done = 0
    else:
        if float_acc is None:
            float_acc = accuracy(model, test_set)
        qmodel = quantize_float(model)
        calib = (torch.from_numpy(train_set.images[i:i + opts.batch_size]).float()
                 for i in range(0, min(len(train_set), opts.calib_batches * opts.batch_size), opts.batch_size))
        calibrate(qmodel, calib)
        ptq = accuracy(qmodel, test_set)
        log(f"post-training quantization: test accuracy {ptq:.4f} (float {float_acc:.4f})")
        history.append({"phase": "calibration", "epoch": 0, "test_acc": ptq})
        qat_done = 0
        state = None
        checkpoint.save(out, qmodel, meta={"history": history, "float_accuracy": float_acc},
                        train_state={"phase": "qat", "epoch": 0, "rng": rng.bit_generator.state,
                                     "torch_rng": torch.get_rng_state(), "options": asdict(opts)})
    if qat_done < opts.qat_epochs:
        _fit(qmodel, train_set, test_set, out, opts, rng, phase="qat", start=qat_done, epochs=opts.qat_epochs,
             lr=opts.qat_lr, state=state, history=history, log=log, float_acc=float_acc)
    elif init_quant is not None:  # nothing trained: the checkpoint's own accuracy would be of another test set
        _measured(qmodel, test_set, history, log, "quantized")
    return _finish(out, qmodel, history, float_acc, history[-1]["test_acc"], cfg, log)


def _measured(model, test_set, history, log, what) -> float:
    acc = accuracy(model, test_set)
    log(f"{what} accuracy {acc:.4f}: measured now on {len(test_set)} test images")
    history.append({"phase": "evaluation", "epoch": 0, "test_acc": acc})
    return acc


def _fmt(acc) -> str:
    return "unknown" if acc is None else f"{acc:.4f}"


def _restore_rng(state: dict, rng: np.random.Generator) -> None:
    rng.bit_generator.state = state["train_state"]["rng"]
    torch.set_rng_state(state["train_state"]["torch_rng"])


def _float_part(sd: dict) -> dict:
    """A float state_dict from any SqueezeNet state_dict (drops Brevitas quantizer state)."""
    return {k: v for k, v in sd.items() if "quant" not in k}


def resume_state(out: Path) -> dict:
    """The checkpoint of an interrupted run, checked to hold everything needed to continue it."""
    if not out.exists():
        raise UserError(f"train --resume: {out} does not exist; start without --resume")
    ckpt = checkpoint.read(out)
    checkpoint.config_of(ckpt, out)
    if "train_state" not in ckpt:
        raise UserError(f"train --resume: {out} is a finished checkpoint with nothing to resume; "
                        "choose another --out or drop --resume")
    if "options" not in ckpt["train_state"]:
        raise UserError(f"train --resume: {out} does not record its run options; start the run anew")
    return ckpt


def _fit(model, train_set, test_set, out, opts, rng, phase, start, epochs, lr, state, history, log, float_acc=None):
    decay, rest = [], []  # weight decay on conv weights only, not on biases or quantizer scales
    for n, p in model.named_parameters():
        (decay if n.endswith("weight") and "quant" not in n else rest).append(p)
    opt = torch.optim.AdamW([{"params": decay, "weight_decay": opts.weight_decay},
                             {"params": rest, "weight_decay": 0.0}], lr=lr)
    steps_per_epoch = math.ceil(len(train_set) / opts.batch_size)
    # linear warm-up over a tenth of the run (at most one epoch), then a cosine to 0 over the rest,
    # both over this run's own length, so that a 3-epoch run is annealed as fully as a 20-epoch one
    total = epochs * steps_per_epoch
    warm = min(steps_per_epoch, max(1, total // 10)) if phase == "float" else 0
    sched = torch.optim.lr_scheduler.LambdaLR(
        opt, lambda s: (s + 1) / warm if s < warm
        else 0.5 * (1 + math.cos(math.pi * (s - warm) / max(1, total - warm))))
    if state and state["train_state"]["phase"] == phase and "optimizer" in state["train_state"]:
        opt.load_state_dict(state["train_state"]["optimizer"])
        sched.load_state_dict(state["train_state"]["scheduler"])
    loss_fn = nn.CrossEntropyLoss()
    model.to(memory_format=torch.channels_last)  # about 1.4x faster convolutions on CPU
    for epoch in range(start, epochs):
        model.train()
        order = rng.permutation(len(train_set))
        t0, seen, correct, loss_sum = time.time(), 0, 0, 0.0
        bar = tqdm(range(steps_per_epoch), desc=f"{phase} {epoch + 1}/{epochs}", disable=not opts.progress,
                   leave=False, unit="batch")
        for step in bar:
            idx = order[step * opts.batch_size:(step + 1) * opts.batch_size]
            x = augment(train_set.images[idx], rng, opts.crop_pad, opts.flip).to(memory_format=torch.channels_last)
            y = torch.from_numpy(train_set.labels[idx])
            logits = model(x)
            loss = loss_fn(logits, y)
            opt.zero_grad(set_to_none=True)
            loss.backward()
            opt.step()
            sched.step()
            seen += len(idx)
            correct += int((logits.argmax(1) == y).sum())
            loss_sum += loss.item() * len(idx)
            bar.set_postfix(loss=f"{loss_sum / seen:.3f}", acc=f"{correct / seen:.3f}")
        bar.close()
        model.to(memory_format=torch.contiguous_format)
        test_acc = accuracy(model, test_set)
        rec = {"phase": phase, "epoch": epoch + 1, "train_loss": loss_sum / seen, "train_acc": correct / seen,
               "test_acc": test_acc, "seconds": round(time.time() - t0, 1)}
        history.append(rec)
        log(f"{phase} epoch {epoch + 1}/{epochs}: loss {rec['train_loss']:.4f} train acc {rec['train_acc']:.4f} "
            f"test acc {test_acc:.4f} ({rec['seconds']} s)")
        meta = {"history": history}
        if float_acc is not None:
            meta["float_accuracy"] = float_acc
        checkpoint.save(out, model, meta=meta, train_state={
            "phase": phase, "epoch": epoch + 1, "optimizer": opt.state_dict(), "scheduler": sched.state_dict(),
            "rng": rng.bit_generator.state, "torch_rng": torch.get_rng_state(), "options": asdict(opts)})
        model.to(memory_format=torch.channels_last)
    model.to(memory_format=torch.contiguous_format)


def augment(images: np.ndarray, rng: np.random.Generator, pad: int, flip: bool) -> torch.Tensor:
    """Random crop (zero padding) and horizontal flip on a uint8 batch; returns float raw pixels."""
    n, c, h, w = images.shape
    if pad:
        padded = np.zeros((n, c, h + 2 * pad, w + 2 * pad), np.uint8)
        padded[:, :, pad:pad + h, pad:pad + w] = images
        dy, dx = rng.integers(0, 2 * pad + 1, n), rng.integers(0, 2 * pad + 1, n)
        rows = dy[:, None] + np.arange(h)[None]
        cols = dx[:, None] + np.arange(w)[None]
        images = padded[np.arange(n)[:, None, None, None], np.arange(c)[None, :, None, None],
                        rows[:, None, :, None], cols[:, None, None, :]]
    if flip:
        mask = rng.random(n) < 0.5
        images = images.copy()
        images[mask] = images[mask, :, :, ::-1]
    return torch.from_numpy(np.ascontiguousarray(images)).float()


def collapse(history: list[dict], num_classes: int) -> str | None:
    """What to change when the run learned nothing: the last training epoch's loss is still ln(classes)
    (a uniform guess: the network's outputs no longer depend on the image) and the final test accuracy
    is near chance. None for a run that learned."""
    fitted = [h for h in history if "train_loss" in h]
    if not fitted:
        return None
    chance_loss, acc = math.log(num_classes), history[-1]["test_acc"]
    if fitted[-1]["train_loss"] < 0.98 * chance_loss or acc > 2.0 / num_classes:
        return None
    return (f"training collapsed to chance: the last epoch's loss {fitted[-1]['train_loss']:.4f} has not left "
            f"ln({num_classes}) = {chance_loss:.4f} (a uniform guess) and test accuracy {acc:.4f} is about "
            f"1/{num_classes}: the outputs carry nothing of the input; lower --lr (e.g. a quarter), keep "
            "--batch-size between 32 and 128 (the learning rates are tuned for those), or train longer (--epochs, more images); check that labels match "
            "the images")


def _finish(out, model, history, float_acc, quant_acc, cfg, log) -> dict:
    meta = {"history": history, "float_accuracy": float_acc, "accuracy": quant_acc if quant_acc is not None
            else float_acc}
    collapsed = collapse(history, cfg.num_classes)
    if collapsed:
        meta["collapsed"] = collapsed
    checkpoint.save(out, model, meta=meta)
    log(f"wrote {out}")
    if collapsed:
        log(f"warning: {collapsed}")
    return {"checkpoint": str(out), "quantized": model.quantized, "float_accuracy": float_acc,
            "accuracy": meta["accuracy"], "collapsed": collapsed}
