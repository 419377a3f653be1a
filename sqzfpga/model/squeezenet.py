"""SqueezeNet family, float and quantized, from one structural definition.

Float and quantized networks differ only in the layer factory, so both have torchvision's module
layout (`features.N...`, `classifier.1`) and a torchvision `state_dict` loads into either.

Both take raw pixels (0..255). The float network pads and normalises them itself; the quantized one
has the normalisation folded into conv1 (see `quant.fold_normalisation`) and pads raw zeros, which
is the same thing, so the accelerator reads uint8 pixels directly.

With `cfg.batchnorm` every float convolution but the classifier is a `ConvBN`: the quantized network
has none, since quantization folds each BatchNorm into its conv first (float -> fold -> calibrate -> QAT).
"""
from __future__ import annotations

import torch
import torch.nn as nn
import torch.nn.functional as F

from sqzfpga.model.config import FireSpec, ModelConfig


class ConvBN(nn.Conv2d):
    """A convolution followed by its BatchNorm, as one module: the conv keeps torchvision's keys
    (`features.0.weight`), so torchvision weights still load, and the BN adds only `<conv>.bn.*`."""

    def __init__(self, cin, cout, k, stride=1, padding=0):
        super().__init__(cin, cout, k, stride=stride, padding=padding)
        self.bn = nn.BatchNorm2d(cout)

    def forward(self, x):
        return self.bn(super().forward(x))


class FloatLayers:
    """Layer factory for the float network."""

    quantized = False

    def __init__(self, cfg: ModelConfig):
        self.cfg = cfg

    def conv(self, name, cin, cout, k, stride=1, padding=0):
        if self.cfg.batchnorm and name != "classifier":  # the class scores keep their own scale
            return ConvBN(cin, cout, k, stride=stride, padding=padding)
        return nn.Conv2d(cin, cout, k, stride=stride, padding=padding)

    def relu(self, name):
        return nn.ReLU(inplace=False)

    def input_quant(self):
        return nn.Identity()

    def output_quant(self):
        return nn.Identity()


class Fire(nn.Module):
    """squeeze 1x1 -> (expand 1x1 || expand 3x3) -> concat, optional bypass add.

    Both expand branches (and the bypass) go through one shared activation module, so in the
    quantized network every concat and add input has the same scale and the concat is exact.
    A conv bypass is followed by that ReLU too, which keeps both add inputs non-negative.
    """

    def __init__(self, spec: FireSpec, layers):
        super().__init__()
        n = spec.name
        self.squeeze = layers.conv(f"{n}.squeeze", spec.cin, spec.squeeze, 1)
        self.squeeze_activation = layers.relu(f"{n}.squeeze")
        self.expand1x1 = layers.conv(f"{n}.expand1x1", spec.squeeze, spec.expand1x1, 1)
        self.expand1x1_activation = layers.relu(f"{n}.expand")
        self.expand3x3 = layers.conv(f"{n}.expand3x3", spec.squeeze, spec.expand3x3, 3, padding=1)
        self.expand3x3_activation = self.expand1x1_activation
        self.bypass_mode = spec.bypass
        if spec.bypass == "conv":
            self.bypass = layers.conv(f"{n}.bypass", spec.cin, spec.cout, 1)
        if spec.bypass != "none":
            self.bypass_activation = layers.relu(f"{n}.add")

    def forward(self, x):
        s = self.squeeze_activation(self.squeeze(x))
        y = torch.cat([self.expand1x1_activation(self.expand1x1(s)),
                       self.expand3x3_activation(self.expand3x3(s))], 1)
        if self.bypass_mode == "none":
            return y
        b = self.bypass(x) if self.bypass_mode == "conv" else x
        return self.bypass_activation(y + self.expand1x1_activation(b))


class SqueezeNet(nn.Module):
    def __init__(self, cfg: ModelConfig, layers=None):
        super().__init__()
        layers = layers or FloatLayers(cfg)
        self.cfg = cfg
        self.quantized = layers.quantized
        k, stride, pad = cfg.conv1_geometry
        # the float net pads raw pixels itself (so folding the normalisation into conv1 is exact)
        self.raw_padding = 0 if self.quantized else pad
        self.input_quant = layers.input_quant()
        feats = [layers.conv("conv1", cfg.in_channels, cfg.conv1_channels, k, stride,
                             pad if self.quantized else 0),
                 layers.relu("conv1"), self._pool()]
        for spec in cfg.fires():
            feats.append(Fire(spec, layers))
            if spec.pool_after:
                feats.append(self._pool())
        self.features = nn.Sequential(*feats)
        last = cfg.fires()[-1].cout
        self.classifier = nn.Sequential(
            nn.Dropout(p=cfg.dropout), layers.conv("classifier", last, cfg.num_classes, 1),
            layers.relu("classifier"), nn.AdaptiveAvgPool2d((1, 1)))
        self.output_quant = layers.output_quant()
        shape = (1, cfg.in_channels, 1, 1)
        self.register_buffer("norm_scale", 1.0 / (255.0 * torch.tensor(cfg.std).view(shape)), persistent=False)
        self.register_buffer("norm_shift", -(torch.tensor(cfg.mean) / torch.tensor(cfg.std)).view(shape),
                             persistent=False)
        if not self.quantized:
            init_weights(self)

    def _pool(self):
        return nn.MaxPool2d(kernel_size=self.cfg.pool_kernel, stride=2, ceil_mode=self.cfg.ceil_mode)

    def forward(self, x):
        if self.quantized:
            x = self.input_quant(x)
        else:
            if self.raw_padding:
                x = F.pad(x, [self.raw_padding] * 4)
            x = x * self.norm_scale + self.norm_shift
        x = self.classifier(self.features(x))
        return torch.flatten(self.output_quant(x), 1)

    def conv_layers(self) -> dict[str, nn.Module]:
        """Convolutions by their config name (conv1, fireN.squeeze, ..., classifier)."""
        out = {"conv1": self.features[0]}
        fires = [m for m in self.features if isinstance(m, Fire)]
        for spec, fire in zip(self.cfg.fires(), fires):
            for part in ("squeeze", "expand1x1", "expand3x3", "bypass"):
                if hasattr(fire, part):
                    out[f"{spec.name}.{part}"] = getattr(fire, part)
        out["classifier"] = self.classifier[1]
        return out


def init_weights(model: nn.Module) -> None:
    """torchvision's SqueezeNet initialisation."""
    final = model.classifier[1]
    for m in model.modules():
        if isinstance(m, nn.Conv2d):
            if m is final:
                nn.init.normal_(m.weight, mean=0.0, std=0.01)
            else:
                nn.init.kaiming_uniform_(m.weight)
            if m.bias is not None:
                nn.init.constant_(m.bias, 0)


def count_parameters(model: nn.Module) -> int:
    return sum(p.numel() for n, p in model.named_parameters() if n.endswith(("weight", "bias"))
               and "quant" not in n)
