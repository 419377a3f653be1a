"""One trial of a sweep: the default model at the trial's width and bits, initialised from the float
weights of a checkpoint, calibrated, fine-tuned (QAT) for the spec's budget, evaluated on the test
split, then planned for the trial's part (fits, frames/s, LUT/FF/BRAM/DSP).

No float checkpoint ships with sqzfpga: the shipped default model is quantized, and its weights are
the float model's with every BatchNorm and the input normalisation folded in, which is exactly what a
quantized network of the family starts from (`quant.quantize_float` folds a float checkpoint the same
way). A narrower trial keeps, in every conv, the output channels of largest L1 norm (the two expand
branches each keep their own, so the concat stays aligned) and the input channels its producer kept.

`run` executes on a Ray worker and touches no file of the sweep folder: it returns the result and the
fine-tuned checkpoint's bytes, which the driver writes, so a cluster needs no shared filesystem for it.
"""
from __future__ import annotations

import os
import socket
import tempfile
import time
from dataclasses import asdict, dataclass
from pathlib import Path

from sqzfpga.errors import UserError
from sqzfpga.sweep.spec import TrainSpec, Trial

STAT_IMAGES = 256  # training images the narrowed network's channel statistics are matched on


@dataclass
class TrialResult:
    trial: dict  # Trial.to_dict()
    accuracy: float  # quantized, on the test split (the spec's test_limit images)
    test_images: int
    fits: bool  # a plan within the part's budget (at the trial's fps where it asks one)
    fps: float | None  # frames/s of the plan at clock_mhz (requested: a plan has no netlist to analyse)
    cycles_per_frame: int | None
    clock_mhz: float
    bottleneck: str | None
    lut: float | None  # the plan's estimate
    ff: float | None
    bram36: float | None
    dsp: float | None
    lut_share: float | None  # lut / the part's LUTs
    note: str  # why it does not fit, or ""
    parameters: int
    seconds: float
    host: str  # where it ran (host name, process id): a retried trial ran again elsewhere
    pid: int

    def to_dict(self) -> dict:
        return asdict(self)

    @classmethod
    def from_dict(cls, d: dict) -> "TrialResult":
        return cls(**d)


def run(trial: Trial, spec: TrainSpec, clock_mhz: float, threads: int = 1) -> tuple[dict, bytes, str]:
    """(result as a dict, the fine-tuned checkpoint's bytes, the trial's log)."""
    import torch

    torch.set_num_threads(threads)
    lines: list[str] = []
    t0 = time.time()
    with tempfile.TemporaryDirectory(prefix=f"sqz-trial-{trial.id}-") as d:
        ckpt, acc, n_test, params = _fine_tune(trial, spec, Path(d), lines.append)
        t1 = time.time()
        plan = _plan(trial, ckpt, clock_mhz, lines.append)
        lines.append(f"{trial.id}: fine-tuning and evaluation {t1 - t0:.1f} s, plan {time.time() - t1:.1f} s")
        result = TrialResult(trial=trial.to_dict(), accuracy=acc, test_images=n_test, clock_mhz=clock_mhz,
                             parameters=params, seconds=round(time.time() - t0, 1), host=socket.gethostname(),
                             pid=os.getpid(), **plan)
        return result.to_dict(), ckpt.read_bytes(), "\n".join(lines) + "\n"


def _fine_tune(trial: Trial, spec: TrainSpec, d: Path, log) -> tuple[Path, float, int, int]:
    from sqzfpga.model import checkpoint, data
    from sqzfpga.model.quant import calibrate
    from sqzfpga.model.squeezenet import count_parameters
    from sqzfpga.model.train import TrainOptions, recipe, train

    cfg = trial.config()
    tr = data.load(spec.data, "train", cfg.in_channels, cfg.input_size).subset(spec.limit)
    te = data.load(spec.data, "test", cfg.in_channels, cfg.input_size).subset(spec.test_limit)
    batch, _ = recipe(spec.qat_epochs, len(tr), spec.batch_size, 0)
    qmodel = initial_model(trial, spec.init, tr.images[:STAT_IMAGES])
    opts = TrainOptions(epochs=0, quantize=True, qat_epochs=spec.qat_epochs, qat_lr=spec.qat_lr, batch_size=batch,
                        crop_pad=0, seed=spec.seed, progress=False)
    import torch

    calibrate(qmodel, (torch.from_numpy(tr.images[i:i + batch]).float()
                       for i in range(0, min(len(tr), opts.calib_batches * batch), batch)))
    init, out = d / "init.pt", d / "model.pt"
    checkpoint.save(init, qmodel, meta={"float_accuracy": None})
    log(f"{trial.id}: {count_parameters(qmodel):,} parameters, QAT {spec.qat_epochs} epoch(s) on {len(tr)} images, "
        f"batch {batch}")
    res = train(cfg, tr, te, out, opts, init=str(init), log=log)
    return out, float(res["accuracy"]), len(te), count_parameters(qmodel)


def initial_model(trial: Trial, init: Path | None, images):
    """The quantized network of the trial (scales uncalibrated), carrying the folded float weights of
    `init` (default: the shipped model), narrowed to the trial's width; a narrowed conv's output channels
    are rescaled so that, on `images`, each keeps the mean and spread it had in the wide network (as a
    BatchNorm re-estimation would), without which a half-width network starts at chance."""
    import dataclasses

    import torch

    from sqzfpga.model import checkpoint
    from sqzfpga.model.quant import build_quant, fold_normalisation
    from sqzfpga.model.squeezenet import SqueezeNet

    path = init or checkpoint.DEFAULT_CHECKPOINT
    ckpt, src_cfg = source(path, [trial])
    cfg = trial.config()
    if ckpt.get("quantized"):
        folded = {k: v for k, v in ckpt["state_dict"].items() if "quant" not in k}
    else:
        fmodel = SqueezeNet(src_cfg)
        checkpoint.load_weights(fmodel, ckpt["state_dict"], path)
        folded = fold_normalisation(fmodel)

    def folded_float(c):  # the float network on raw pixels with folded weights (no BatchNorm, no normalisation)
        m = SqueezeNet(dataclasses.replace(c, batchnorm=False))
        m.norm_scale.fill_(1.0)
        m.norm_shift.zero_()
        return m.eval()

    src, dst = folded_float(src_cfg), folded_float(cfg)
    src.load_state_dict(folded)
    x = torch.from_numpy(images).float()
    with torch.no_grad():
        kept = narrow(src.conv_layers(), dst.conv_layers(), cfg)
        if cfg.width_mult != src_cfg.width_mult:
            match_statistics(src, dst, kept, x)
    qmodel = build_quant(cfg)
    qmodel.load_state_dict(dst.state_dict(), strict=False)
    return qmodel


def source(path: Path, trials: list[Trial]):
    """The checkpoint at `path` and its config, checked to be of the default family and at least as wide
    as every trial (the sweep checks this before it starts any trial)."""
    from sqzfpga.model import checkpoint

    ckpt = checkpoint.read(path)
    src_cfg = checkpoint.config_of(ckpt, path)
    shape = lambda c: (c.in_channels, c.input_size, c.num_classes, c.stem, c.num_fires,  # noqa: E731
                       c.pool_after, c.base_e, c.incr_e, c.freq, c.pct3x3, c.sr, c.bypass)
    for t in trials:
        cfg = t.config()
        if shape(src_cfg) != shape(cfg) or src_cfg.width_mult < cfg.width_mult:
            raise UserError(f"[train] init {path}: cannot start trial {t.id}: it is not a model of the default family "
                            f"at width >= {cfg.width_mult:g} (width {src_cfg.width_mult:g}, bypass {src_cfg.bypass}); "
                            "sweep narrower widths, or give a checkpoint trained with --preset default at the widest")
    return ckpt, src_cfg


def narrow(src: dict, dst: dict, cfg) -> dict:
    """Copy every conv of `src` into the (narrower or equal) conv of the same name in `dst`; returns
    the output channels each kept."""
    import torch

    kept = {}

    def take(name: str, inputs: torch.Tensor) -> torch.Tensor:
        w, b, d = src[name].weight, src[name].bias, dst[name]
        kept[name] = torch.sort(torch.topk(w.abs().flatten(1).sum(1), d.out_channels).indices).values
        d.weight.copy_(w[kept[name]][:, inputs])
        d.bias.copy_(b[kept[name]])
        return kept[name]

    prev = take("conv1", torch.arange(cfg.in_channels))
    for f in cfg.fires():
        s = take(f"{f.name}.squeeze", prev)
        e1 = take(f"{f.name}.expand1x1", s)
        e3 = take(f"{f.name}.expand3x3", s)
        prev = torch.cat([e1, e3 + src[f"{f.name}.expand1x1"].out_channels])
    take("classifier", prev)
    return kept


def match_statistics(src, dst, kept: dict, x) -> None:
    """Layer by layer (in order, each after the ones before it are corrected), scale and shift every
    output channel of dst's convs to the mean and standard deviation of the same channel in src on x."""
    def outputs(model, names):  # conv name -> its output on x, channels x values
        seen, hooks = {}, []
        for name in names:
            hooks.append(model.conv_layers()[name].register_forward_hook(
                lambda m, i, o, name=name: seen.__setitem__(name, o.transpose(0, 1).flatten(1))))
        model(x)
        for h in hooks:
            h.remove()
        return seen

    wide = outputs(src, kept)
    for name, conv in dst.conv_layers().items():
        want, have = wide[name][kept[name]], outputs(dst, [name])[name]
        ratio = want.std(1) / have.std(1).clamp(min=1e-6)
        conv.weight.mul_(ratio.view(-1, 1, 1, 1))
        conv.bias.copy_((conv.bias - have.mean(1)) * ratio + want.mean(1))


def _plan(trial: Trial, ckpt: Path, clock_mhz: float, log) -> dict:
    """The RTL planner's folding of the checkpoint for the trial's part: as `plan --model` computes it."""
    from sqzfpga.build import BuildRequest, plan_model
    from sqzfpga.parts import get_part
    from sqzfpga.rtl.plan import Unreachable

    part = get_part(trial.part)
    max_cycles = None if trial.fps is None else max(1, int(clock_mhz * 1e6 // trial.fps))
    note = ""
    try:
        p = plan_model(BuildRequest(model=ckpt, part=part.name, out=ckpt.parent, clock_mhz=clock_mhz,
                                    max_cycles=max_cycles), log)
        fits = True
    except Unreachable as e:
        p, fits = e.best, False
        note = f"{trial.fps:g} frames/s out of reach: {e}"
    except UserError as e:  # nothing fits the part at any rate
        log(f"{trial.id}: {e}")
        return {"fits": False, "fps": None, "cycles_per_frame": None, "bottleneck": None, "lut": None, "ff": None,
                "bram36": None, "dsp": None, "lut_share": None, "note": str(e)}
    est = p["estimate"]
    return {"fits": fits, "fps": round(clock_mhz * 1e6 / p["cycles_per_frame"], 1),
            "cycles_per_frame": p["cycles_per_frame"], "bottleneck": p["bottleneck"], **est,
            "lut_share": round(est["lut"] / part.lut, 4), "note": note}
