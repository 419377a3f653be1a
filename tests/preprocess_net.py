"""A small Brevitas model trained on preprocessed inputs, written as a user writes one (no sqzfpga
classes): 3 input channels, a signed 8-bit input quantizer of scale 2^-7 (Int8ActPerTensorFixedPoint,
calibrated on inputs in [-1, 1]), conv -> ReLU -> max pool -> 1x1 classifier -> global average pool.
With `raw` the input quantizer is sqzfpga's own raw-pixel one (unsigned 8-bit, scale 1)."""
from __future__ import annotations

import warnings

import numpy as np
import torch
from torch import nn

SIZE, CHANNELS, CLASSES = 16, 3, 4


def build(raw: bool = False, seed: int = 0) -> nn.Module:
    from brevitas.nn import QuantConv2d, QuantIdentity, QuantReLU
    from brevitas.quant import (Int8ActPerTensorFixedPoint, Int8BiasPerTensorFixedPointInternalScaling,
                                Int8WeightPerTensorFixedPoint, Uint8ActPerTensorFixedPoint)

    from sqzfpga.model.quant import RawPixelQuant

    def conv(i, o, k, stride=1):
        return QuantConv2d(i, o, k, stride=stride, bias=True, weight_quant=Int8WeightPerTensorFixedPoint,
                           bias_quant=Int8BiasPerTensorFixedPointInternalScaling, return_quant_tensor=True)

    class Net(nn.Module):
        def __init__(self):
            super().__init__()
            self.inp = QuantIdentity(act_quant=RawPixelQuant if raw else Int8ActPerTensorFixedPoint,
                                     return_quant_tensor=True)
            self.conv1, self.relu1 = conv(CHANNELS, 8, 3), QuantReLU(act_quant=Uint8ActPerTensorFixedPoint,
                                                                     return_quant_tensor=True)
            self.pool = nn.MaxPool2d(2, 2)
            self.classifier = conv(8, CLASSES, 1)
            self.relu2 = QuantReLU(act_quant=Uint8ActPerTensorFixedPoint)
            self.gap = nn.AdaptiveAvgPool2d(1)
            self.out = QuantIdentity(act_quant=Uint8ActPerTensorFixedPoint)

        def forward(self, x):
            x = self.pool(self.relu1(self.conv1(self.inp(x))))
            x = self.out(self.gap(self.relu2(self.classifier(x))))
            return x.view(x.size(0), -1)

    torch.manual_seed(seed)
    net = Net().train()
    rng = np.random.default_rng(seed)
    with torch.no_grad():  # calibration passes on inputs in [-1, 1] (raw: on bytes)
        for _ in range(4):
            b = rng.integers(0, 256, (32, CHANNELS, SIZE, SIZE)).astype(np.float32)
            net(torch.from_numpy(b if raw else b / 127.5 - 1))
    return net.eval()


def export(net: nn.Module, path) -> str:
    from brevitas.export import export_qonnx

    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        export_qonnx(net, input_t=torch.zeros(1, CHANNELS, SIZE, SIZE), export_path=str(path), dynamo=False)
    return str(path)


def predict(net: nn.Module, x: np.ndarray) -> np.ndarray:
    """Brevitas's outputs for float inputs (the user's own preprocessing, in float32)."""
    with torch.no_grad():
        return net(torch.from_numpy(np.ascontiguousarray(x, dtype=np.float32))).numpy()
