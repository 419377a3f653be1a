"""A small Brevitas network with an average pool k x k / s: the test model of the avgpool layer.

raw pixels -> conv 3x3 (+ReLU, or a signed activation) -> AvgPool2d(k, s) -> power-of-two
QuantIdentity (signed or unsigned) -> conv 1x1 + ReLU -> global average pool -> output quantizer.
Every scale is a power of two (the quantizers of sqzfpga.model.quant), so Brevitas, the QONNX
reference executor and both backends compute the same integers. Calibrated on real images.
"""
from __future__ import annotations

import brevitas.nn as qnn
import numpy as np
import torch
import torch.nn as nn
from brevitas.quant import Int8ActPerTensorFixedPoint

from sqzfpga.model.config import preset
from sqzfpga.model.quant import SCALE_FLOOR, ActQuant, BiasQuant, RawPixelQuant, WeightQuant, calibrate


class SignedActQuant(Int8ActPerTensorFixedPoint):
    scaling_min_val = SCALE_FLOOR


class AvgPoolNet(nn.Module):
    """`signed`: conv1 feeds the pool through a signed activation (no ReLU) and the pool's quantizer
    is signed; otherwise both are unsigned (ReLU)."""

    quantized = True  # what sqzfpga.model.export checks

    def __init__(self, k: int = 2, s: int = 2, signed: bool = False, size: int = 28, channels: int = 8,
                 act_bits: int = 6, pool_bits: int = 6):
        super().__init__()
        self.cfg = preset("default", in_channels=1, input_size=size, num_classes=10)  # export's input size
        self.input_quant = qnn.QuantIdentity(act_quant=RawPixelQuant)
        self.conv1 = qnn.QuantConv2d(1, channels, 3, padding=1, bias=True, weight_quant=WeightQuant,
                                     weight_bit_width=6, bias_quant=BiasQuant, bias_bit_width=16)
        self.act1 = (qnn.QuantIdentity(act_quant=SignedActQuant, bit_width=act_bits) if signed else
                     qnn.QuantReLU(act_quant=ActQuant, bit_width=act_bits))
        self.pool = nn.AvgPool2d(k, s)
        self.pool_quant = qnn.QuantIdentity(act_quant=SignedActQuant if signed else ActQuant, bit_width=pool_bits)
        self.conv2 = qnn.QuantConv2d(channels, 10, 1, bias=True, weight_quant=WeightQuant, weight_bit_width=6,
                                     bias_quant=BiasQuant, bias_bit_width=16)
        self.act2 = qnn.QuantReLU(act_quant=ActQuant, bit_width=8)
        self.gap = nn.AdaptiveAvgPool2d((1, 1))
        self.output_quant = qnn.QuantIdentity(act_quant=ActQuant, bit_width=16)

    def forward(self, x):
        x = self.pool_quant(self.pool(self.act1(self.conv1(self.input_quant(x)))))
        x = self.output_quant(self.gap(self.act2(self.conv2(x))))
        return torch.flatten(x, 1)


def build(images: np.ndarray, seed: int = 0, **kwargs) -> AvgPoolNet:
    """A randomly initialised AvgPoolNet, its activation scales calibrated on `images` (uint8 NCHW)."""
    torch.manual_seed(seed)
    net = AvgPoolNet(**kwargs)
    calibrate(net, [torch.from_numpy(images[i:i + 50]).float() for i in range(0, len(images), 50)])
    return net
