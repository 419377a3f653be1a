"""Random small models as Brevitas users write them (plain torch + brevitas.nn, exported with
export_qonnx as is), for the features sqzfpga's own ModelConfig family cannot draw: Dense heads,
per-channel power-of-two weight scales, BatchNorm folded before calibration, an input quantizer for
preprocessed inputs (the input table) and signed or unit-scale outputs. A second generator rather than
more fields in the family's layer factory: the family is sqzfpga's own model class (not a test file),
and these features reach the toolchain through a user's QONNX export, which is what is drawn here.
The end-to-end check is tests/fuzzing.py's (check_export), on the same image bytes.

An example is a plain dict (pasteable into `@example`):
  input: "raw" bytes (scale-1 unsigned quantizer, no preprocessing), "unit" (bytes / 255 in [0, 1]) or
    "meanstd" ((bytes / 255 - mean_c) / std_c), stated in the ONNX metadata; the input quantizer's bits,
    signedness and power-of-two scale (in_frac) cover the preprocessed range (one step coarser with
    `in_coarse`);
  convs: 1..3 QuantConv2d (k 1 or 3, stride 1 or 2, zero padding or none, weight bits 2..8, per-tensor or
    per-channel weights, some output channels' float weights shrunk by 2^-shrink, one channel zeroed
    with `dead`, a BatchNorm2d with random statistics folded by fold_batchnorm, ReLU 2..8 bits, an
    optional 2x2 max pool);
  head: "flatten" (the whole last map into a QuantLinear) or "gap" (global average pool, requantised,
    then a QuantLinear); `hidden` > 0 puts a QuantLinear + ReLU of that width first;
  out: "signed" (no ReLU: the last QuantLinear into a signed quantizer of out_bits), "unit" (signed, scale
    exactly 1; the last layer's weights scaled up 16 times so the scores span several units) or "relu"
    (unsigned).
"""
from __future__ import annotations

import math
import re
import time
import warnings
from pathlib import Path

import numpy as np
from hypothesis import assume
from hypothesis import strategies as st

from fuzzing import check_export, images

# A model the toolchain refuses on purpose, with one error line naming why (counted apart from passes
# and failures by benchmarks/fuzz.py): per-channel weight scales spanning more binary places than the
# weight words can hold (documented in sqzfpga/frontend/lower.py `_quant`).
INTENDED_REFUSALS = {"channel-scale spread": re.compile(r"span \d+ binary places")}
MEANS, STDS = [0.5, 0.45, 0.25, 0.0], [0.5, 0.6, 0.25, 1.0]


def input_frac(pre, bits: int, signed: bool, channels: int) -> int:
    """Fraction bits of the finest power-of-two input scale whose range covers the preprocessed bytes
    (within the one step the table check allows)."""
    from sqzfpga.frontend.preprocess import preprocessed

    x = preprocessed(pre, channels)
    top = max(float(x.max()), -float(x.min()) if signed else 0.0)
    levels = 2 ** (bits - 1) if signed else 2 ** bits
    return -math.ceil(math.log2(top / levels))


def preprocessing(ex: dict):
    from sqzfpga.model.preprocess import Preprocess

    if ex["input"] == "raw":
        return Preprocess()
    c = ex["in_channels"]
    if ex["input"] == "unit":
        return Preprocess(1 / 255, (0.0,), (1.0,), "model metadata")
    return Preprocess(1 / 255, tuple(ex["mean"][:c]), tuple(ex["std"][:c]), "model metadata")


@st.composite
def user_models(draw) -> dict:
    """One random user model (see the module docstring); richest choices first."""
    c = draw(st.integers(1, 3))
    ex = {"in_channels": c, "input_size": draw(st.integers(6, 16)),
          "input": draw(st.sampled_from(["meanstd", "unit", "raw"]))}
    if ex["input"] != "raw":
        ex["in_bits"] = draw(st.sampled_from([8, 7, 6]))
        ex["in_signed"] = ex["input"] == "meanstd" or draw(st.booleans())
        ex["in_coarse"] = draw(st.sampled_from([False, True]))
        if ex["input"] == "meanstd":
            ex["mean"] = [draw(st.sampled_from(MEANS)) for _ in range(c)]
            ex["std"] = [draw(st.sampled_from(STDS)) for _ in range(c)]
    size, convs = ex["input_size"], []
    for _ in range(draw(st.integers(1, 3))):
        k, stride, pad = draw(st.sampled_from([3, 1])), draw(st.sampled_from([1, 2])), draw(st.booleans())
        pool = draw(st.booleans())
        size = (size + (2 * (k // 2) if pad else 0) - k) // stride + 1
        size = size // 2 if pool else size
        assume(size >= 1)
        per_channel = draw(st.booleans())
        convs.append({"out": draw(st.integers(2, 8)), "k": k, "stride": stride, "pad": pad, "pool": pool,
                      "wbits": draw(st.integers(2, 8)), "abits": draw(st.integers(2, 8)), "bn": draw(st.booleans()),
                      "per_channel": per_channel, "shrink": draw(st.integers(0, 6)) if per_channel else 0,
                      "dead": per_channel and draw(st.sampled_from([False, False, True]))})
    ex["convs"] = convs
    ex["head"] = draw(st.sampled_from(["flatten", "gap"]))
    assume(ex["head"] == "gap" or size * size * convs[-1]["out"] <= 512)  # a Dense over a large map: slow csim
    ex["hidden"] = draw(st.sampled_from([0, 12, 5]))
    fcs = 2 if ex["hidden"] else 1
    ex["fc_wbits"] = [draw(st.integers(2, 8)) for _ in range(fcs)]
    ex["fc_per_channel"] = [draw(st.booleans()) for _ in range(fcs)]
    ex["fc_abits"] = draw(st.integers(2, 8))  # the hidden layer's or the pooled map's ReLU
    ex["out"] = draw(st.sampled_from(["signed", "unit", "relu"]))
    ex["out_bits"] = draw(st.integers(8, 16))
    ex["num_classes"] = draw(st.integers(2, 10))
    ex["bias_bits"] = draw(st.sampled_from([16, 8]))
    return dict(ex, seed=draw(st.integers(0, 2**16)), dsp=draw(st.sampled_from([16, 48, 200])))


def build(ex: dict):
    """The example's float model (BatchNorm with random statistics, as if trained), folded with
    fold_batchnorm, calibrated on preprocessed random images; returned in eval mode."""
    import brevitas.nn as qnn
    import torch
    from brevitas.core.scaling import ScalingImplType
    from brevitas.quant import Int8ActPerTensorFixedPoint, Uint8ActPerTensorFixedPoint
    from brevitas.quant.fixed_point import Int8WeightPerChannelFixedPoint
    from torch import nn

    from signed_net import act
    from sqzfpga.model import fold_batchnorm
    from sqzfpga.model.quant import SCALE_FLOOR, BiasQuant, RawPixelQuant, WeightQuant, calibrate

    class PerChannelQuant(Int8WeightPerChannelFixedPoint):
        scaling_min_val = SCALE_FLOOR

    def weighted(cls, cin, cout, spec_bits, per_channel, *args, bias=True, **kw):
        return cls(cin, cout, *args, bias=bias, weight_quant=PerChannelQuant if per_channel else WeightQuant,
                   weight_bit_width=spec_bits, bias_quant=BiasQuant, bias_bit_width=ex["bias_bits"], **kw)

    torch.manual_seed(ex["seed"])
    pre = preprocessing(ex)
    c = ex["in_channels"]
    if ex["input"] == "raw":
        layers = [qnn.QuantIdentity(act_quant=RawPixelQuant)]
    else:
        bits, signed = ex["in_bits"], ex["in_signed"]
        frac = input_frac(pre, bits, signed, c) - ex["in_coarse"]

        class InputQuant(Int8ActPerTensorFixedPoint if signed else Uint8ActPerTensorFixedPoint):
            scaling_impl_type = ScalingImplType.CONST  # threshold = scale * max integer: scale 2^-frac exactly
            scaling_init = 2.0 ** -frac * (2 ** (bits - 1) - 1 if signed else 2 ** bits - 1)
            bit_width = bits

        layers = [qnn.QuantIdentity(act_quant=InputQuant)]
    shrink, cin = [], c
    for spec in ex["convs"]:
        k = spec["k"]
        conv = weighted(qnn.QuantConv2d, cin, spec["out"], spec["wbits"], spec["per_channel"], k,
                        stride=spec["stride"], padding=k // 2 if spec["pad"] else 0, bias=not spec["bn"])
        layers.append(conv)
        shrink.append((conv, spec["shrink"], spec["dead"]))
        if spec["bn"]:
            bn = nn.BatchNorm2d(spec["out"]).eval()
            with torch.no_grad():
                bn.weight.uniform_(0.1, 2.0)
                bn.bias.uniform_(-0.5, 0.5)
                bn.running_mean.uniform_(-0.5, 0.5)
                bn.running_var.uniform_(0.05, 4.0)
            layers.append(bn)
        layers.append(act("relu", spec["abits"]))
        if spec["pool"]:
            layers.append(nn.MaxPool2d(2, 2))
        cin = spec["out"]
    if ex["head"] == "gap":
        layers += [nn.AdaptiveAvgPool2d(1), act("relu", ex["fc_abits"])]
        size = 1
    else:
        size = None
    layers.append(nn.Flatten())
    net = nn.Sequential(*layers)
    if size is None:
        with torch.no_grad():
            n = net(torch.zeros(1, c, ex["input_size"], ex["input_size"])).shape[1]
    else:
        n = cin
    widths = [n] + ([ex["hidden"]] if ex["hidden"] else []) + [ex["num_classes"]]
    for i, (wb, pc) in enumerate(zip(ex["fc_wbits"], ex["fc_per_channel"])):
        fc = weighted(qnn.QuantLinear, widths[i], widths[i + 1], wb, pc)
        shrink.append((fc, 3 if pc else 0, False))
        net.append(fc)
        if i < len(widths) - 2:
            net.append(act("relu", ex["fc_abits"]))
    net.append(act(ex["out"], ex["out_bits"]) if ex["out"] != "unit" else act("unit"))
    with torch.no_grad():  # the channel scales differ: every third output channel's weights scaled down
        for m, k, dead in shrink:
            m.weight[::3] *= 2.0 ** -k
            if dead:
                m.weight[1] = 0.0
        if ex["out"] == "unit":  # scores of several units, so that an output of scale 1 is not constant
            shrink[-1][0].weight *= 16.0
    net.eval()
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        fold_batchnorm(net)
    rng = np.random.default_rng(ex["seed"] + 1)
    x = [torch.from_numpy(pre.apply(images(c, ex["input_size"], 32, int(rng.integers(2**16)))).astype(np.float32))]
    calibrate(net, x)
    return net, pre


def export(ex: dict, folder: Path):
    """The example's model exported with export_qonnx to folder/model.onnx, its preprocessing stored in
    the file's metadata; returns (path, net, preprocessing)."""
    import onnx
    import torch
    from brevitas.export import export_qonnx

    from sqzfpga.model import preprocess

    net, pre = build(ex)
    s = ex["input_size"]
    folder.mkdir(parents=True, exist_ok=True)
    path = folder / "model.onnx"
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        export_qonnx(net, input_t=torch.zeros(1, ex["in_channels"], s, s), export_path=str(path), dynamo=False)
    if pre.stated:
        model = onnx.load(str(path))
        preprocess.store(model, pre)
        onnx.save(model, str(path))
    return path, net, pre


def brevitas_outputs(net, pre, x: np.ndarray) -> np.ndarray:
    """Brevitas's outputs for image bytes x: it gets (byte * scale - mean) / std, as the reference does."""
    import torch

    with torch.no_grad():
        return net(torch.from_numpy(pre.apply(x).astype(np.float32))).numpy()


def check(ex: dict, folder: Path, rtl: bool = False, n_images: int = 12) -> dict:
    """Export the example's model and run fuzzing's check on the same image bytes."""
    t0 = time.time()
    path, net, pre = export(ex, folder)
    x = images(ex["in_channels"], ex["input_size"], n_images, ex["seed"] + 2)
    return check_export(path, x, brevitas_outputs(net, pre, x), folder, ex["dsp"], rtl, t0)


def refusal(message: str) -> str | None:
    """The intended refusal a UserError message is (INTENDED_REFUSALS), or None."""
    return next((why for why, pattern in INTENDED_REFUSALS.items() if pattern.search(message)), None)


def is_user(ex: dict) -> bool:
    """Whether an example is this generator's (else it is tests/fuzzing.py's family member)."""
    return "convs" in ex
