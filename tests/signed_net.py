"""Small Brevitas networks with signed outputs and unit scales at chosen places (the test models of
tests/test_signed.py).

raw pixels -> conv 3x3 -> act1 -> [max pool 2x2] -> [Fire (squeeze -> act, expand 1x1 || 3x3 + ReLU)]
-> classifier conv 1x1 -> act -> global average pool -> output quantizer.

Each activation is either a ReLU (unsigned) or a signed QuantIdentity (no ReLU), with a power-of-two
scale from calibration or, for `unit`, a constant scale of exactly 1 (fraction bits 0).
"""
from __future__ import annotations

import brevitas.nn as qnn
import numpy as np
import torch
import torch.nn as nn
from brevitas.core.scaling import ScalingImplType
from brevitas.quant import Int8ActPerTensorFixedPoint

from sqzfpga.model.config import preset
from sqzfpga.model.quant import SCALE_FLOOR, ActQuant, BiasQuant, RawPixelQuant, WeightQuant, calibrate


class SignedActQuant(Int8ActPerTensorFixedPoint):
    scaling_min_val = SCALE_FLOOR


class UnitSignedQuant(Int8ActPerTensorFixedPoint):
    """Signed, scale exactly 1: the integers are the values."""

    scaling_impl_type = ScalingImplType.CONST
    scaling_init = 127.0


def act(kind: str, bits: int = 8) -> nn.Module:
    """'relu': unsigned; 'signed': signed, calibrated scale; 'unit': signed, scale 1."""
    if kind == "relu":
        return qnn.QuantReLU(act_quant=ActQuant, bit_width=bits)
    if kind == "unit":
        return qnn.QuantIdentity(act_quant=UnitSignedQuant, bit_width=8)
    return qnn.QuantIdentity(act_quant=SignedActQuant, bit_width=bits)


def conv(cin: int, cout: int, k: int) -> qnn.QuantConv2d:
    return qnn.QuantConv2d(cin, cout, k, padding=k // 2, bias=True, weight_quant=WeightQuant, weight_bit_width=6,
                           bias_quant=BiasQuant, bias_bit_width=16)


class SignedNet(nn.Module):
    """`act1`, `squeeze`, `cls`, `out`: the kinds (see act()) of conv1's, the Fire squeeze's, the
    classifier's and the output's activations; `pool`, `fire`: whether those layers are there."""

    quantized = True  # what sqzfpga.model.export checks

    def __init__(self, act1="relu", pool=False, fire=False, squeeze="relu", cls="signed", out="signed",
                 size=8, classes=4, channels=6, out_bits=12):
        super().__init__()
        self.cfg = preset("default", in_channels=1, input_size=size, num_classes=classes)  # export's input size
        self.input_quant = qnn.QuantIdentity(act_quant=RawPixelQuant)
        self.conv1, self.act1 = conv(1, channels, 3), act(act1)
        self.pool = nn.MaxPool2d(2, 2) if pool else nn.Identity()
        self.fire = fire
        if fire:
            self.squeeze, self.squeeze_act = conv(channels, 4, 1), act(squeeze)
            self.e1, self.e3, self.expand_act = conv(4, 4, 1), conv(4, 4, 3), act("relu")
            channels = 8
        self.classifier, self.cls_act = conv(channels, classes, 1), act(cls)
        self.gap = nn.AdaptiveAvgPool2d((1, 1))
        self.output_quant = act(out, out_bits) if out != "relu" else qnn.QuantIdentity(act_quant=ActQuant,
                                                                                      bit_width=out_bits)

    def forward(self, x):
        x = self.pool(self.act1(self.conv1(self.input_quant(x))))
        if self.fire:
            s = self.squeeze_act(self.squeeze(x))
            x = torch.cat([self.expand_act(self.e1(s)), self.expand_act(self.e3(s))], 1)
        x = self.output_quant(self.gap(self.cls_act(self.classifier(x))))
        return torch.flatten(x, 1)


def images(n: int, size: int = 8, seed: int = 0) -> np.ndarray:
    """n 1 x size x size uint8 images, random pixels."""
    return np.random.default_rng(seed).integers(0, 256, (n, 1, size, size)).astype(np.uint8)


def build(seed: int = 0, **kwargs) -> SignedNet:
    """A randomly initialised SignedNet, its activation scales calibrated on random images."""
    torch.manual_seed(seed)
    net = SignedNet(**kwargs)
    calibrate(net, [torch.from_numpy(images(64, net.cfg.input_size, seed + 1)).float()])
    return net
