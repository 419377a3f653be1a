"""`python -m sqzfpga <command>`: one sub-command per pipeline stage.

Commands register themselves by name in COMMANDS (parser builder + runner). Every runner returns a
summary dict; with --json it is printed as the last line. Problems the user can fix are raised as
UserError and printed as one `error:` line with exit code 2; Ctrl-C exits 130.
"""
from __future__ import annotations

import argparse
import json
import os
import shlex
import signal
import sys
import time
from pathlib import Path

from sqzfpga.errors import UserError

COMMANDS: dict[str, tuple] = {}  # name -> (help, add_arguments, run)


def command(name: str, help: str, add_arguments):
    def register(fn):
        COMMANDS[name] = (help, add_arguments, fn)
        return fn
    return register


def log(msg: str) -> None:
    print(msg, file=sys.stderr, flush=True)


# ---- shared options --------------------------------------------------------------------------------
def _bits_pair(text: str) -> tuple[str, int]:
    name, _, bits = text.partition("=")
    try:
        return name, int(bits)
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected LAYER=BITS (e.g. conv1=8), got {text!r}") from None


def _add_model_options(p: argparse.ArgumentParser) -> None:
    g = p.add_argument_group("model (used when training from scratch or from --init)")
    g.add_argument("--preset", help="v1.0, v1.1, small or default (default: default)")
    g.add_argument("--in-channels", type=int, help="input channels")
    g.add_argument("--num-classes", type=int, help="output classes")
    g.add_argument("--input-size", type=int, help="input height = width in pixels")
    g.add_argument("--width-mult", type=float, help="channel width multiplier")
    g.add_argument("--bypass", choices=["none", "simple", "complex"], help="residual bypass variant")
    g.add_argument("--base-e", type=int, help="paper metaparameter base_e")
    g.add_argument("--incr-e", type=int, help="paper metaparameter incr_e")
    g.add_argument("--freq", type=int, help="paper metaparameter freq")
    g.add_argument("--pct3x3", type=float, help="paper metaparameter pct3x3")
    g.add_argument("--sr", type=float, help="paper metaparameter SR (squeeze ratio)")
    g.add_argument("--batchnorm", action=argparse.BooleanOptionalAction, default=None,
                   help="float training with a BatchNorm after every conv but the classifier, folded into the "
                   "convs before quantization (default: on for the default and small presets)")
    g.add_argument("--weight-bits", type=int, help="weight bit width, 2..8")
    g.add_argument("--act-bits", type=int, help="activation bit width, 2..8")
    g.add_argument("--layer-weight-bits", type=_bits_pair, action="append", default=[], metavar="LAYER=BITS",
                   help="per-layer weight bits (repeatable), e.g. conv1=8")
    g.add_argument("--layer-act-bits", type=_bits_pair, action="append", default=[], metavar="LAYER=BITS",
                   help="per-layer activation bits (repeatable), e.g. fire2.expand=4")


_MODEL_FIELDS = ("in_channels", "num_classes", "input_size", "width_mult", "bypass", "base_e", "incr_e", "freq",
                 "pct3x3", "sr", "batchnorm", "weight_bits", "act_bits")


def _config_from_args(a):
    from sqzfpga.model.config import PRESETS, preset

    name = a.preset or "default"
    over = {k: getattr(a, k) for k in _MODEL_FIELDS if getattr(a, k) is not None}
    if a.layer_weight_bits:
        over["layer_weight_bits"] = {**PRESETS.get(name, {}).get("layer_weight_bits", {}),
                                     **dict(a.layer_weight_bits)}
    if a.layer_act_bits:
        over["layer_act_bits"] = dict(a.layer_act_bits)
    base = preset(name)
    if over.get("in_channels", base.in_channels) != base.in_channels:  # preset mean/std no longer apply
        over["mean"], over["std"] = (0.5,) * over["in_channels"], (0.25,) * over["in_channels"]
    return preset(name, **over)


def _refuse_overridden(a, cfg, what: str) -> None:
    """`what` (a quantized --init checkpoint, a --resume run) keeps its own model config: a model option
    asking for something else is refused in one line rather than ignored; one that agrees is fine."""
    from sqzfpga.model.config import PRESETS, preset

    asked = []  # (option as typed, config field, value asked for)
    if a.preset is not None:
        preset(a.preset)  # an unknown name: its own error
        # a preset's batchnorm is moot for a quantized model (folded); it differs in no hardware layer
        asked += [(f"--preset {a.preset}", k, v) for k, v in PRESETS[a.preset].items() if k != "batchnorm"]
    asked += [(f"--{k.replace('_', '-')} {getattr(a, k)}", k, getattr(a, k)) for k in _MODEL_FIELDS
              if getattr(a, k) is not None]
    for opt, field in [("--layer-weight-bits", "layer_weight_bits"), ("--layer-act-bits", "layer_act_bits")]:
        asked += [(f"{opt} {n}={b}", field, {**getattr(cfg, field), n: b}) for n, b in getattr(a, field)]
    for opt, field, value in asked:
        have = getattr(cfg, field)
        if (tuple(value) if isinstance(value, (list, tuple)) else value) != have:
            raise UserError(f"train: {what} keeps its own architecture and bits, so {opt} would be ignored "
                            f"({field} {value!r} asked, {have!r} in the checkpoint); drop {opt.split()[0]}, or "
                            "start from a float checkpoint or from scratch to get a different model")


def _model_arg(p: argparse.ArgumentParser, what: str) -> None:
    p.add_argument("--model", help=f"{what} (default: the shipped default model)")


def _preprocess_options(p: argparse.ArgumentParser) -> None:
    g = p.add_argument_group("input preprocessing (what the model was trained on; default: raw bytes 0..255, or "
                             "what the ONNX file's metadata states)")
    g.add_argument("--input-scale", metavar="S", help="multiply each image byte by S first (a number or a fraction, "
                   "e.g. 1/255 for inputs in [0, 1])")
    g.add_argument("--mean", metavar="M", help="then subtract the mean, one value or one per channel (e.g. "
                   "0.485,0.456,0.406)")
    g.add_argument("--std", metavar="D", help="then divide by the standard deviation, one value or one per channel")


def _preprocess(a):
    from sqzfpga.model import preprocess

    return preprocess.from_options(a.input_scale, a.mean, a.std)


def _resolve_model(path: str | None) -> Path:
    from sqzfpga.model.checkpoint import DEFAULT_CHECKPOINT

    return Path(path) if path else DEFAULT_CHECKPOINT


# ---- train -------------------------------------------------------------------------------------------
def _train_parser(p):
    p.add_argument("--data", required=True, help="dataset folder (IDX, CIFAR-10 python batches or image folder)")
    p.add_argument("--out", required=True, help="checkpoint file to write (atomically, after every epoch)")
    p.add_argument("--init", help="start from this float checkpoint or torchvision SqueezeNet state_dict")
    p.add_argument("--resume", action="store_true", help="continue an interrupted run from --out")
    p.add_argument("--epochs", type=int, default=15, help="float training epochs (default 15; 0 with --init)")
    p.add_argument("--quantize", action="store_true", help="then quantize: fold, calibrate (PTQ), QAT")
    p.add_argument("--qat-epochs", type=int, default=0, help="quantization-aware epochs after calibration")
    p.add_argument("--lr", type=float, default=2e-3, help="float learning rate (AdamW, cosine)")
    p.add_argument("--qat-lr", type=float, default=1e-4, help="QAT learning rate")
    p.add_argument("--batch-size", type=int, help="images per step (default: 128, halved down to 32 until "
                   "the run has 600 steps, so that short runs converge)")
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--limit", type=int, help="use only the first N training images")
    p.add_argument("--test-limit", type=int, help="evaluate on only the first N test images")
    p.add_argument("--no-flip", action="store_true", help="no horizontal-flip augmentation (digits)")
    p.add_argument("--crop-pad", type=int, help="random-crop padding in pixels (default: 2 for runs of 10 or "
                   "more epochs, 0 for shorter ones, which crops only slow down)")
    p.add_argument("--threads", type=int, help="torch CPU threads")
    _add_model_options(p)


@command("train", "train a float or quantized SqueezeNet (float, PTQ calibration, QAT)", _train_parser)
def cmd_train(a):
    import dataclasses

    import torch

    from sqzfpga.model import checkpoint, data
    from sqzfpga.model.train import TrainOptions, resume_state, train

    out = Path(a.out)
    _check_output_file(out, (".pt", ".pth"))
    if a.threads is not None:
        _positive(a.threads, "--threads")
        torch.set_num_threads(a.threads)
    if a.resume:
        if a.init:
            raise UserError("train: --resume and --init conflict; --resume continues --out, --init starts anew")
        state = resume_state(out)
        cfg = checkpoint.config_of(state, out)
        _refuse_overridden(a, cfg, f"--resume {out}")
        opts = TrainOptions(**state["train_state"]["options"])
        log(f"resuming {out}: {state['train_state']['phase']} epoch {state['train_state']['epoch']} "
            "(with the options the run was started with)")
    else:
        state = None
        if a.epochs < 0 or a.qat_epochs < 0:
            raise UserError("train: --epochs and --qat-epochs must be >= 0")
        if a.epochs == 0 and not a.init:
            raise UserError("train: --epochs 0 needs --init (a float checkpoint to quantize)")
        if a.qat_epochs and not a.quantize:
            raise UserError("train: --qat-epochs needs --quantize")
        for value, name in [(a.batch_size, "--batch-size"), (a.limit, "--limit"), (a.test_limit, "--test-limit")]:
            _positive(value, name)
        if a.crop_pad is not None and a.crop_pad < 0:
            raise UserError(f"train: --crop-pad {a.crop_pad}; expected >= 0")
        cfg = _config_from_args(a)
        if a.init:
            init_ckpt = checkpoint.read(a.init)
            if init_ckpt.get("quantized"):  # fine-tuning keeps the checkpoint's own architecture
                cfg = checkpoint.config_of(init_ckpt, a.init)
                _refuse_overridden(a, cfg, f"the quantized --init {a.init}")
        opts = TrainOptions(epochs=a.epochs, quantize=a.quantize, qat_epochs=a.qat_epochs, lr=a.lr,
                            qat_lr=a.qat_lr, batch_size=a.batch_size, seed=a.seed, crop_pad=a.crop_pad,
                            flip=not a.no_flip, limit=a.limit, test_limit=a.test_limit)
    opts = dataclasses.replace(opts, progress=sys.stderr.isatty())
    tr = data.load(a.data, "train", cfg.in_channels, cfg.input_size).subset(opts.limit, "--limit", log)
    te = data.load(a.data, "test", cfg.in_channels, cfg.input_size).subset(opts.test_limit, "--test-limit", log)
    _check_labels(tr, cfg)
    _check_labels(te, cfg)
    _check_classes(tr, opts.limit)
    log(f"training on {len(tr)} images, testing on {len(te)} ({tr.source})")
    return train(cfg, tr, te, out, opts, init=a.init, state=state, log=log)


def _positive(value, name):
    if value is not None and value < 1:
        raise UserError(f"{name} {value}: expected a positive integer")


def _check_labels(ds, cfg):
    if len(ds) and int(ds.labels.max()) >= cfg.num_classes:
        raise UserError(f"dataset {ds.source}: labels go up to {int(ds.labels.max())}, the model has "
                        f"{cfg.num_classes} classes; set --num-classes")


def _check_classes(ds, limit) -> None:
    """Training needs examples of at least two classes (one class learns a constant)."""
    present = sorted(set(ds.labels.tolist()))
    if len(present) < 2:
        names = [ds.classes[i] if i < len(ds.classes) else str(i) for i in present]
        hint = (f"; --limit {limit} took only the first {limit} images, so raise it" if limit == len(ds)
                else "; add images of the other classes")
        raise UserError(f"dataset {ds.source}: the training images hold a single class ({', '.join(names) or 'none'})"
                        f"{hint}; training needs at least two classes")


def _check_output_file(out: Path, suffixes: tuple[str, ...]) -> None:
    """A file the command may write: of its kind (by suffix), never the model shipped with sqzfpga."""
    from sqzfpga.model.checkpoint import DEFAULT_DIR

    if out.is_dir():
        raise UserError(f"--out {out}: is a folder; expected a file name")
    if out.suffix.lower() not in suffixes:
        raise UserError(f"--out {out}: the file written is a {' or '.join(suffixes)} file; name it so "
                        f"(e.g. --out {out.with_suffix(suffixes[0]).name})")
    if out.resolve().parent == DEFAULT_DIR.resolve():
        raise UserError(f"--out {out}: is the folder of the model shipped with sqzfpga, which no command "
                        "overwrites; write elsewhere (e.g. --out my-model" + suffixes[0] + ")")
    _check_writable(out.parent)


def _check_writable(folder: Path) -> None:
    try:
        folder.mkdir(parents=True, exist_ok=True)
    except OSError as e:
        raise UserError(f"output folder {folder}: cannot be created ({e.strerror}); choose another --out") from None
    if not os.access(folder, os.W_OK):
        raise UserError(f"output folder {folder}: not writable; choose another --out")


# ---- eval --------------------------------------------------------------------------------------------
def _eval_parser(p):
    _model_arg(p, "checkpoint (.pt) or exported QONNX model (.onnx)")
    p.add_argument("--data", required=True, help="dataset folder")
    p.add_argument("--split", default="test", choices=["train", "test"])
    p.add_argument("--limit", type=int, help="evaluate only the first N images")
    _preprocess_options(p)


@command("eval", "accuracy of a checkpoint or an exported QONNX model on a dataset", _eval_parser)
def cmd_eval(a):
    from sqzfpga.model import data, preprocess

    path = _resolve_model(a.model)
    stated = _preprocess(a)
    t0 = time.time()
    if path.suffix == ".onnx":
        from sqzfpga.frontend.preprocess import check_model
        from sqzfpga.model import reference

        model = reference.load(path)
        pre = preprocess.resolve(model, stated, f"model {path}")
        preprocess.store(model, pre)
        check_model(model, pre)  # an input quantizer that does not cover the preprocessing: as the build refuses it
        _, c, h, _ = reference.input_shape(model)
        ds = data.load(a.data, a.split, c, h).subset(a.limit)
        scores = reference.run(model, ds.images)
        kind = "qonnx"
    else:
        from sqzfpga.model import checkpoint
        from sqzfpga.model.evaluate import predict

        preprocess.for_checkpoint(stated, f"checkpoint {path}")
        model, ckpt = checkpoint.load_model(path)
        ds = data.load(a.data, a.split, model.cfg.in_channels, model.cfg.input_size).subset(a.limit)
        scores = predict(model, ds.images)
        kind = "quantized checkpoint" if model.quantized else "float checkpoint"
    if not len(ds):
        raise UserError(f"dataset {ds.source}: the {a.split} split has no images")
    if int(ds.labels.max()) >= scores.shape[1]:
        raise UserError(f"dataset {ds.source}: labels go up to {int(ds.labels.max())}, but {path} scores "
                        f"{scores.shape[1]} classes; evaluate on a dataset of the model's classes")
    acc = float((scores.argmax(1) == ds.labels).mean())
    log(f"{path}: {kind}, accuracy {acc:.4f} on {len(ds)} {a.split} images ({time.time() - t0:.1f} s)")
    return {"model": str(path), "kind": kind, "split": a.split, "images": len(ds), "accuracy": acc}


# ---- export ------------------------------------------------------------------------------------------
def _export_parser(p):
    _model_arg(p, "quantized checkpoint (.pt)")
    p.add_argument("--out", required=True, help="QONNX file to write")


@command("export", "export a quantized checkpoint to QONNX (cleaned up, channels-last)", _export_parser)
def cmd_export(a):
    from sqzfpga.model import checkpoint
    from sqzfpga.model.export import export

    path, out = _resolve_model(a.model), Path(a.out)
    _check_output_file(out, (".onnx",))
    model, _ = checkpoint.load_model(path)
    t0 = time.time()
    export(model, out)
    log(f"wrote {out} ({time.time() - t0:.1f} s)")
    return {"model": str(path), "onnx": str(out)}


# ---- build -------------------------------------------------------------------------------------------
def _build_parser(p):
    from sqzfpga.parts import PARTS

    _model_arg(p, "quantized checkpoint (.pt) or QONNX model (.onnx)")
    p.add_argument("--part", default="xc7z020", help=f"target FPGA part: {', '.join(PARTS)} (default xc7z020)")
    p.add_argument("--out", default="build", help="build folder (default ./build)")
    p.add_argument("--images", type=int, default=200, help="images for the C simulation (default 200)")
    p.add_argument("--data", help="dataset folder to take verification images from (default: the shipped "
                   "samples for the default model, random images otherwise)")
    p.add_argument("--backend", default="Vitis", choices=["Vitis", "Vivado"], help="hls4ml backend (default Vitis)")
    p.add_argument("--no-csim", action="store_true", help="skip the C simulation (write the project only)")
    _preprocess_options(p)
    _rate_options(p)
    _stream_option(p)
    from sqzfpga.deploy.boards import BOARDS

    g = p.add_argument_group("deployment")
    g.add_argument("--board", help=f"write the Vivado scripts and the deployment package for this board: "
                   f"{', '.join(BOARDS)}")
    g.add_argument("--accel", choices=["rtl", "hls"], default="rtl", help="which accelerator goes into the block "
                   "design: the generated RTL (default) or the HLS project's AXI-Stream top (then an RTL backend "
                   "that fails is a warning and the build goes on without rtl/)")
    g.add_argument("--bitstream", action="store_true", help="also run Vivado (block design, implementation, "
                   "bitstream); needs vivado (and vitis-run or vitis_hls for --accel hls) on PATH")
    from sqzfpga.build import DEFAULT_STOP, STEP_NAMES

    g = p.add_argument_group("steps (run in this order: " + ", ".join(STEP_NAMES) + ")")
    g.add_argument("--start-step", default=STEP_NAMES[0], metavar="STEP", help="first step to run; after export, "
                   "--out must be a build folder, whose files stand in for the earlier steps (default export)")
    g.add_argument("--stop-step", default=DEFAULT_STOP, metavar="STEP", help=f"last step to run (default "
                   f"{DEFAULT_STOP}; rtlsim and synth also simulate and synthesise the RTL)")


def _stream_option(p) -> None:
    p.add_argument("--stream-bits", type=int, metavar="BITS", help="TDATA width of the DMA's input stream: 8, 32, "
                   "64 or 128 (bytes packed little-endian into each beat, frames padded to whole beats; outputs stay "
                   "32-bit words); default: the planner's choice, the narrowest at which the input does not limit "
                   "the frame rate (8 unless it does)")


def _rate_options(p) -> None:
    p.add_argument("--clock-mhz", type=float, help="the fabric clock: the HLS clock, the plan's frame rates, and with "
                   "--board the clock the block design asks the PS for (default: the board's, else 100)")
    p.add_argument("--fps", type=float, help="frames/s to reach with the least hardware (default: as fast as the "
                   "part allows)")


def _resolve_clock(a) -> None:
    """--clock-mhz, or the board's default clock (100 MHz without --board); a number, it goes into Tcl."""
    from sqzfpga.build import check_clock

    if a.clock_mhz is None:
        from sqzfpga.deploy.boards import DEFAULT_CLOCK_MHZ, get_board

        a.clock_mhz = get_board(a.board).clock_mhz if getattr(a, "board", None) else DEFAULT_CLOCK_MHZ
    check_clock(a.clock_mhz)


def _max_cycles(a) -> int | None:
    """--fps at --clock-mhz as a cycles-per-frame target (None: as fast as the part allows)."""
    if a.fps is not None and not a.fps > 0:
        raise UserError(f"--fps {a.fps:g}: expected a positive number")
    if a.fps is None:
        return None
    return max(1, int(a.clock_mhz * 1e6 // a.fps))


@command("build", "build the accelerator: QONNX -> hls4ml + Fire templates -> HLS project, fit check, "
         "bit-exact C simulation", _build_parser)
def cmd_build(a):
    _resolve_clock(a)
    from sqzfpga.build import BuildRequest, build
    from sqzfpga.rtl.plan import Unreachable

    request = BuildRequest(
        model=_resolve_model(a.model), part=a.part, out=Path(a.out), images=a.images, data=a.data, backend=a.backend,
        csim=not a.no_csim, max_cycles=_max_cycles(a), stream_bits=a.stream_bits, board=a.board, accel=a.accel,
        bitstream=a.bitstream, clock_mhz=a.clock_mhz, command=a.invoked, start_step=a.start_step,
        stop_step=a.stop_step,
        progress=sys.stderr.isatty(), preprocess=_preprocess(a))
    try:
        return build(request, log=log)
    except Unreachable as e:
        raise _unreachable(a, e) from None


def _unreachable(a, e) -> UserError:
    """An --fps the planner cannot reach, as one line: the best rate and what limits it."""
    b = e.best
    return UserError(f"--fps {a.fps:g}: out of reach on {a.part} at {a.clock_mhz:g} MHz; the best plan reaches "
                     f"{a.clock_mhz * 1e6 / b['cycles_per_frame']:.0f} frames/s ({b['cycles_per_frame']} cycles per "
                     f"frame), limited by layer {b['bottleneck']} once the {b['limiting_resource']} budget is spent; "
                     "lower --fps, use a larger part or fewer bits")


def _plan_model(a, max_cycles):
    """(part, plan summary) of the model (or the build folder's graph) for a.part."""
    from sqzfpga import build
    from sqzfpga.parts import get_part

    part = get_part(a.part)
    asked = {"part": part.name, "clock_mhz": a.clock_mhz, "max_cycles": max_cycles, "stream_bits": a.stream_bits}
    if getattr(a, "build", None):
        if _preprocess(a) is not None:
            raise UserError(f"--input-scale/--mean/--std with --build {a.build}: the build folder's model.onnx "
                            "holds the preprocessing it was built with; drop the options or plan --model")
        request = build.request_of(_existing_build(a.build), board=None, **asked)
        return part, build.plan_graph(build.new_state(request, request.out, log))
    path = _resolve_model(a.model)
    if not path.exists():
        raise UserError(f"--model {path}: no such file; expected a quantized checkpoint (.pt) or QONNX model")
    return part, build.plan_model(build.BuildRequest(model=path, out=Path("."), preprocess=_preprocess(a), **asked),
                                  log)


# ---- plan ------------------------------------------------------------------------------------------------
def _plan_parser(p):
    from sqzfpga.parts import PARTS

    _model_arg(p, "quantized checkpoint (.pt) or QONNX model (.onnx)")
    p.add_argument("--build", metavar="DIR", help="plan the graph of this build folder instead of --model (fast)")
    p.add_argument("--part", default="xc7z020", help=f"target FPGA part: {', '.join(PARTS)} (default xc7z020)")
    _rate_options(p)
    _stream_option(p)
    _preprocess_options(p)


@command("plan", "choose every layer's parallelism for a part: frames/s, bottleneck layer, estimated LUT/FF/BRAM/DSP",
         _plan_parser)
def cmd_plan(a):
    _resolve_clock(a)
    from sqzfpga.parts import get_part
    from sqzfpga.report.page import multipliers, rom
    from sqzfpga.rtl.plan import Unreachable
    from sqzfpga.rtl.rate import rate

    get_part(a.part)  # an unknown part fails before the (slow) export
    try:
        part, p = _plan_model(a, _max_cycles(a))
    except Unreachable as e:
        raise _unreachable(a, e) from None
    speed = rate(p["cycles_per_frame"], None, a.clock_mhz, None)  # a plan has no netlist to analyse
    fps = speed.fps
    log(f"{'unit':22} {'PI':>4} {'PO':>4} {'multipliers':>11} {'ROM':>5} {'DSP':>5} {'LUT':>7} {'BRAM36':>6} "
        f"{'cycles':>9}")
    for u in p["units"]:
        mark = "  <- bottleneck" if u["name"] == p["bottleneck"] else ""
        log(f"{u['name'][:22]:22} {u['pi']:>4} {u['po']:>4} {multipliers(u):>11} {rom(u):>5} {u['dsp']:>5} "
            f"{u['lut']:>7} {u['bram36']:>6} {u['cycles']:>9}{mark}")
    cap = part.capacity()
    util = {k: round(p["estimate"][k] / cap[k], 4) for k in cap}
    log(f"[plan] {part.name}: {p['cycles_per_frame']} cycles/frame = {speed.describe()}, "
        f"bottleneck {p['bottleneck']}, {p['stream_bits']}-bit input stream; estimated " + ", ".join(
            f"{k.upper()} {p['estimate'][k]:,.0f} ({util[k]:.0%})" for k in cap))
    return {"part": part.name, "clock_mhz": a.clock_mhz, "clock_source": speed.clock_source,
            "cycles_per_frame": p["cycles_per_frame"], "fps": round(fps, 2), "bottleneck": p["bottleneck"],
            "stream_bits": p["stream_bits"],
            "macs_per_frame": p["macs_per_frame"],
            "mac_per_s": round(p["macs_per_frame"] * fps), "multipliers": p["lanes"],
            "dsp_roofline_fps": round(part.dsp * a.clock_mhz * 1e6 / p["macs_per_frame"], 1),
            **{k: p["estimate"][k] for k in cap}, "utilisation": util, "limiting_resource": p["limiting_resource"]}



# ---- RTL backend: rtl, rtlsim, synth -----------------------------------------------------------------
def _build_dir_arg(p) -> None:
    p.add_argument("--build", required=True, metavar="DIR", help="a folder written by `build --out DIR`")


def _rerun(d: Path, step: str, **asked):
    """One step of the flow over the build folder `d`, with the request it was built with; the report
    is rendered again with the step's results."""
    from sqzfpga.build import request_of, rerun

    return rerun(request_of(d, start_step=step, stop_step=step, progress=sys.stderr.isatty(), **asked), log)


def _existing_build(path: str) -> Path:
    d = Path(path).resolve()
    if not (d / "build.json").exists():
        raise UserError(f"--build {path}: not an sqzfpga build folder (no build.json); run `python -m sqzfpga build "
                        f"--out {path}` first")
    return d


def _rtl_parser(p):
    _build_dir_arg(p)
    p.add_argument("--stream-bits", type=int, metavar="BITS", help="TDATA width of the DMA's input stream: 8, 32, 64 "
                   "or 128 (default: the build's); changes rtl/ only: the HLS top and the deployment package follow "
                   "with `build --start-step project`")


@command("rtl", "regenerate the SystemVerilog dataflow of a build (from its canonical graph, via hls4ml)",
         _rtl_parser)
def cmd_rtl(a):
    d = _existing_build(a.build)
    asked = {} if a.stream_bits is None else {"stream_bits": a.stream_bits}
    m = _rerun(d, "rtl", **asked).rtl  # rtl/ replaced, its synth.json with it; rtlsim.json (the previous RTL's) removed
    bits = m["layout"].get("stream_bits", 8)
    log(f"[rtl] wrote {d / 'rtl'}: {len(m['sources'])} sources, planned {m['plan']['cycles_per_frame']} cycles/frame "
        f"(bottleneck {m['plan']['bottleneck']}, {m['plan']['lanes']} multipliers on {m['plan']['dsp']} DSPs), "
        f"{bits}-bit input stream")
    return {"rtl": str(d / "rtl"), "top": m["top"], "stream_bits": bits, **{k: m["plan"][k] for k in (
        "cycles_per_frame", "bottleneck", "lanes", "dsp", "macs_per_frame")}}


def _rtlsim_parser(p):
    _build_dir_arg(p)
    p.add_argument("--images", type=int, default=20, help="verification images to simulate (default 20)")
    p.add_argument("--clock-mhz", type=float, help="quote frames/s and latency at this clock, or at the timing "
                   "estimate's fmax where that is lower (default: the build's clock)")


@command("rtlsim", "simulate the generated RTL cycle by cycle (cocotb + Verilator): agreement with the C "
         "simulation, cycles per frame, latency", _rtlsim_parser)
def cmd_rtlsim(a):
    return _rerun(_existing_build(a.build), "rtlsim", rtlsim_images=a.images,
                  rtlsim_clock_mhz=a.clock_mhz).rtlsim  # inexact: an error


@command("synth", "synthesise the generated RTL with Yosys (synth_xilinx): LUT, FF, BRAM, DSP against the part; "
         "then the timing estimate (fmax) of its netlists", _build_dir_arg)
def cmd_synth(a):
    s = _rerun(_existing_build(a.build), "synth")
    res, part = s.synth, s.part
    u = res["utilisation"]
    log(f"[synth] {part.name}: LUT {res['lut']} ({u['lut']:.0%}), FF {res['ff']} ({u['ff']:.0%}), BRAM36 "
        f"{res['bram36']} ({u['bram36']:.0%}), DSP {res['dsp']} ({u['dsp']:.0%}): "
        f"{'fits' if res['fits'] else 'does NOT fit'}")
    t = s.timing or {}
    return {**res, "fmax_mhz": t.get("fmax_mhz"), "critical_path": t.get("critical_path")}


def _timing_parser(p):
    _build_dir_arg(p)
    p.add_argument("--timeout", type=int, default=3600, metavar="S",
                   help="seconds Yosys may take per stage before the command stops (default 3600)")


@command("timing", "estimate the clock of the generated RTL: longest paths of the Yosys synth_xilinx netlist "
         "under a Zynq-7000 -1 delay model (fmax, critical path, per stage)", _timing_parser)
def cmd_timing(a):
    from sqzfpga.build import update_rates
    from sqzfpga.parts import get_part
    from sqzfpga.report.page import write_report
    from sqzfpga.rtl.timing import estimate
    from sqzfpga.sim.rtlsim import rerate

    d = _existing_build(a.build)
    if not (d / "rtl" / "rtl.json").exists():
        raise UserError(f"--build {a.build}: has no generated RTL (rtl/rtl.json); run `python -m sqzfpga rtl --build "
                        f"{a.build}` first")
    if a.timeout <= 0:
        raise UserError(f"--timeout {a.timeout}: expected a positive number of seconds")
    part = get_part(json.loads((d / "build.json").read_text())["part"])
    res = estimate(d / "rtl", part, timeout=a.timeout, show_progress=sys.stderr.isatty())
    if (d / "report.md").exists():  # a build's frame rates and report follow the new estimate
        rerate(d)
        update_rates(d)
        write_report(d)
    cp = res["critical_path"]
    log(f"[timing] {part.name} -1: fmax {res['fmax_mhz']} MHz; critical path {cp['ns']} ns, {cp['levels']} logic "
        f"levels, in {cp['stage']}: {cp['start']} -> {cp['end']} (wrote {d / 'rtl' / 'timing.json'})")
    return res


# ---- validate (the deployment package against a simulated board) -----------------------------------
def _validate_parser(p):
    _build_dir_arg(p)
    p.add_argument("--on", choices=["rtl"], required=True, help="rtl: the package's driver over a PG021 AXI DMA "
                   "model against the generated RTL in Verilator")
    p.add_argument("--batches", default="1,7,64", help="batch sizes, one Accelerator.run each (default 1,7,64)")
    p.add_argument("--wall-limit", type=float, help="seconds before the simulation is stopped (default 120 + 10 "
                   "per frame)")
    p.add_argument("--script-images", type=int, default=0, help="then also run the package's validate.py, "
                   "unchanged, on this many sample images (default 0: not)")


@command("validate", "run the deployment package's driver, unchanged, on a simulated board (AXI DMA model + "
         "RTL): every frame against the C simulation", _validate_parser)
def cmd_validate(a):
    from sqzfpga.sim.validate import parse_batches, validate_rtl

    res = validate_rtl(_existing_build(a.build), parse_batches(a.batches), a.wall_limit, log=log,
                       show_progress=sys.stderr.isatty(), script_images=a.script_images)
    log(f"[validate] {res['frames']} frames in {len(res['batches'])} batches through the AXI DMA model: "
        f"{'exact' if res['exact'] else 'NOT exact'} vs the C simulation; transfers {res['transfers']}; "
        f"{res['cycles_per_frame']} cycles/frame (planned {res['planned_cycles_per_frame']})")
    if not res["exact"]:
        raise UserError(f"validate --on rtl: {res['mismatching_values']} output values differ from the C simulation")
    if res["validate_py"] and res["validate_py"]["rc"] != 0:
        raise UserError(f"validate --on rtl: the package's validate.py failed on the simulated board: "
                        f"{res['validate_py']}")
    return res


# ---- deploy ------------------------------------------------------------------------------------------
def _deploy_parser(p):
    _build_dir_arg(p)
    p.add_argument("--host", required=True, help="the board: [user@]host or an alias from your ssh config")
    p.add_argument("--dest", default="sqzfpga-deploy", help="folder on the board (default ~/sqzfpga-deploy)")
    p.add_argument("--csim", action="store_true", help="run validate.py on the C-simulation stand-in instead of "
                   "the bitstream (to try the package on any Linux host)")
    p.add_argument("--ssh-config", type=Path, help="ssh config file to use instead of ~/.ssh/config")
    p.add_argument("--python", default="python3", help="Python on the board (default python3)")
    p.add_argument("--images", type=int, help="sample images to validate (default: all in the package)")
    p.add_argument("--timeout", type=float, default=20.0, help="seconds to wait for the board (default 20)")


@command("deploy", "copy the deployment package to a board over SSH and run validate.py there", _deploy_parser)
def cmd_deploy(a):
    from sqzfpga.deploy.remote import deploy

    if not a.timeout > 0:
        raise UserError(f"--timeout {a.timeout:g}: expected a positive number of seconds")
    res = deploy(_existing_build(a.build), a.host, a.dest, a.csim, a.ssh_config, a.python, a.images, a.timeout,
                 log=log)
    log(f"[deploy] {a.host}: {res['images']} images, {'exact' if res['exact'] else 'NOT exact'} vs the C "
        f"simulation, accuracy {res['accuracy']}, {res['fps']} frames/s ({res['backend']})")
    return res


# ---- sweep (design-space exploration on Ray) -----------------------------------------------------------
def _sweep_parser(p):
    p.add_argument("--spec", required=True, metavar="SWEEP.toml", help="the sweep spec: [grid] lists (weight_bits, "
                   "act_bits, width, part, optional fps and [grid.layer_act_bits]), [train] data and budget, optional "
                   "[build] and [engine]; documented in sqzfpga/sweep/spec.py")
    p.add_argument("--out", required=True, metavar="DIR", help="sweep folder: one JSON per trial as it finishes, "
                   "sweep.json, pareto.json, builds/, sweep.html; a rerun skips the trials finished there")
    p.add_argument("--address", metavar="HOST:PORT", help="join this running Ray cluster (`ray start --head --port "
                   "PORT` printed it) instead of starting Ray in this process")


@command("sweep", "design-space sweep on Ray: QAT, accuracy and plan (fits, frames/s, LUT/FF/BRAM/DSP) per grid point, "
         "the Pareto front built", _sweep_parser)
def cmd_sweep(a):
    from sqzfpga.sweep import spec
    from sqzfpga.sweep.run import sweep

    s = spec.load(a.spec)
    out = Path(a.out)
    if out.exists() and not out.is_dir():
        raise UserError(f"--out {out}: is a file; expected a sweep folder")
    _check_writable(out)
    return sweep(s, out.resolve(), a.address, log=log, progress=sys.stderr.isatty())


# ---- entry point ---------------------------------------------------------------------------------------
class Terminated(KeyboardInterrupt):
    """SIGTERM, raised like Ctrl-C so that every half-written build folder or checkpoint is removed."""


def _terminated(signum, frame):
    raise Terminated()


def make_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="python -m sqzfpga",
                                     description="Quantized SqueezeNet -> FPGA accelerator toolchain.")
    parser.add_argument("--version", action="version", version="sqzfpga 0.1.0")
    sub = parser.add_subparsers(dest="command", metavar="COMMAND")
    for name, (help_text, add_arguments, _) in COMMANDS.items():
        p = sub.add_parser(name, help=help_text, description=help_text)
        add_arguments(p)
        p.add_argument("--json", action="store_true", help="print a one-line JSON summary last")
    return parser


def main(argv: list[str] | None = None) -> int:
    parser = make_parser()
    a = parser.parse_args(argv)
    if not a.command:
        parser.print_help()
        return 2
    _, _, fn = COMMANDS[a.command]
    a.invoked = (f"cd {shlex.quote(os.getcwd())} && python -m sqzfpga "  # the report's "Reproduce"
                 + shlex.join(sys.argv[1:] if argv is None else argv))
    signal.signal(signal.SIGTERM, _terminated)
    try:
        summary = fn(a)
    except UserError as e:
        print(f"error: {e}", file=sys.stderr)
        return 2
    except KeyboardInterrupt as e:
        what = "terminated" if isinstance(e, Terminated) else "interrupted"
        print(f"error: {what}; checkpoints and build folders written before are intact (nothing half-written "
              "replaced them)", file=sys.stderr)
        return 143 if isinstance(e, Terminated) else 130
    if a.json:
        clean = {k: (None if isinstance(v, float) and v != v else v) for k, v in summary.items()}  # NaN -> null
        print(json.dumps(clean, default=str))
    return 0
