"""Quantized SqueezeNet: Brevitas layers with power-of-two (fixed-point) scales everywhere.

Power-of-two scales are what make Brevitas, the QONNX executor and fixed-point hardware agree bit
for bit: every requantisation is a shift with round-half-even and saturation.
"""
from __future__ import annotations

import copy
import warnings

import torch

from sqzfpga.model.batchnorm import fold_into
from sqzfpga.model.config import ModelConfig
from sqzfpga.model.squeezenet import ConvBN, SqueezeNet

warnings.filterwarnings("ignore", message=".*fast_hadamard_transform.*")
import brevitas.nn as qnn  # noqa: E402
from brevitas.core.scaling import ScalingImplType  # noqa: E402
from brevitas.graph.calibrate import calibration_mode  # noqa: E402
from brevitas.quant import (  # noqa: E402
    Int8BiasPerTensorFixedPointInternalScaling,
    Int8WeightPerTensorFixedPoint,
    Uint8ActPerTensorFixedPoint,
)


# Brevitas clamps every scale from below at 1e-10 after rounding it to a power of two: a quantizer that
# saw only zeros in calibration (a dead ReLU, an all-zero weight tensor) gets scale 1e-10, which no
# fixed-point type can represent. The floor here is itself a power of two, so such a layer keeps a
# (tiny) power-of-two scale; no scale a working layer has (>= 2^-20) comes near it. Found by fuzzing.
SCALE_FLOOR = 2.0 ** -24


class ActQuant(Uint8ActPerTensorFixedPoint):
    scaling_min_val = SCALE_FLOOR


class WeightQuant(Int8WeightPerTensorFixedPoint):
    scaling_min_val = SCALE_FLOOR


class BiasQuant(Int8BiasPerTensorFixedPointInternalScaling):
    scaling_min_val = SCALE_FLOOR


class RawPixelQuant(Uint8ActPerTensorFixedPoint):
    """uint8 pixels with scale exactly 1: the accelerator's input is the raw image."""

    scaling_impl_type = ScalingImplType.CONST
    scaling_init = 255.0
    max_val = 255.0


class QuantLayers:
    """Layer factory for the quantized network; bit widths come from the config per layer."""

    quantized = True

    def __init__(self, cfg: ModelConfig):
        self.cfg = cfg

    def conv(self, name, cin, cout, k, stride=1, padding=0):
        return qnn.QuantConv2d(cin, cout, k, stride=stride, padding=padding, bias=True,
                               weight_quant=WeightQuant,
                               weight_bit_width=self.cfg.weight_bits_of(name),
                               bias_quant=BiasQuant,
                               bias_bit_width=self.cfg.bias_bits)

    def relu(self, name):
        return qnn.QuantReLU(act_quant=ActQuant, bit_width=self.cfg.act_bits_of(name))

    def input_quant(self):
        return qnn.QuantIdentity(act_quant=RawPixelQuant)

    def output_quant(self):
        return qnn.QuantIdentity(act_quant=ActQuant, bit_width=self.cfg.output_bits)


def build_quant(cfg: ModelConfig) -> SqueezeNet:
    return SqueezeNet(cfg, QuantLayers(cfg))


def fold_normalisation(float_model: SqueezeNet) -> dict[str, torch.Tensor]:
    """Float state_dict with every BatchNorm folded into its conv (running statistics: eval-mode
    behaviour), then (x/255 - mean)/std folded into conv1's weights and bias."""
    model = copy.deepcopy(float_model)
    folded = tuple(f"{name}.bn." for name, m in model.named_modules() if isinstance(m, ConvBN))
    for m in model.modules():
        if isinstance(m, ConvBN):
            fold_into(m, m.bn)
    sd = {k: v.detach().clone() for k, v in model.state_dict().items() if not k.startswith(folded)}
    w, b = sd["features.0.weight"], sd["features.0.bias"]
    scale = float_model.norm_scale.view(1, -1, 1, 1)
    shift = float_model.norm_shift.view(1, -1, 1, 1)
    sd["features.0.bias"] = b + (w * shift).sum(dim=(1, 2, 3))
    sd["features.0.weight"] = w * scale
    return sd


def quantize_float(float_model: SqueezeNet) -> SqueezeNet:
    """A quantized network carrying the float network's weights (activation scales uncalibrated)."""
    qmodel = build_quant(float_model.cfg)
    missing, unexpected = qmodel.load_state_dict(fold_normalisation(float_model), strict=False)
    real_missing = [k for k in missing if "quant" not in k]
    if real_missing or unexpected:
        raise RuntimeError(f"float -> quant weight transfer: missing {real_missing}, unexpected {unexpected}")
    return qmodel


@torch.no_grad()
def calibrate(qmodel: SqueezeNet, batches) -> None:
    """Set activation scales from data (Brevitas runtime statistics), in eval mode."""
    qmodel.eval()
    with calibration_mode(qmodel):
        for x in batches:
            qmodel(x)
    qmodel.eval()


def quant_scales(qmodel: SqueezeNet) -> dict[str, float]:
    """Every activation scale, by module path: handy for reports and sanity checks."""
    out = {}
    for name, m in qmodel.named_modules():
        if isinstance(m, (qnn.QuantReLU, qnn.QuantIdentity)):
            out[name] = float(m.act_quant.scale().detach())
    return out


def is_power_of_two(value: float) -> bool:
    mant, _ = torch.frexp(torch.tensor(float(value), dtype=torch.float64))
    return float(value) > 0 and float(mant) == 0.5



