"""Model configuration: one dataclass describes every member of the SqueezeNet family.

The paper's metaparameters (base_e, incr_e, freq, pct3x3, SR) generate the Fire widths; presets give
torchvision's v1.0 / v1.1 and our small-input default. The config travels inside every checkpoint, so
a checkpoint alone rebuilds its network.
"""
from __future__ import annotations

import dataclasses
from dataclasses import dataclass, field

from sqzfpga.errors import UserError
from sqzfpga.model.geometry import pool_out

BIT_RANGE = (2, 8)
BYPASS_MODES = ("none", "simple", "complex")


@dataclass
class FireSpec:
    name: str
    cin: int
    squeeze: int
    expand1x1: int
    expand3x3: int
    bypass: str  # "none", "identity" or "conv"
    pool_after: bool

    @property
    def cout(self) -> int:
        return self.expand1x1 + self.expand3x3


@dataclass
class ModelConfig:
    """Architecture plus quantization; everything needed to rebuild a network."""

    in_channels: int = 3
    num_classes: int = 1000
    input_size: int = 224
    stem: str = "v1.1"  # "v1.0" (7x7/2, 96 ch), "v1.1" (3x3/2, 64 ch), "small" (3x3/1, pad 1, 64 ch)
    num_fires: int = 8
    pool_after: tuple[int, ...] = (3, 5)  # fire numbers (2..9) followed by a 3x3/2 max pool
    ceil_mode: bool = True
    pool_kernel: int = 3  # max pools are pool_kernel x pool_kernel, stride 2 (3: overlapping, as in the paper)
    base_e: int = 128
    incr_e: int = 128
    freq: int = 2
    pct3x3: float = 0.5
    sr: float = 0.125
    width_mult: float = 1.0
    bypass: str = "none"
    dropout: float = 0.5
    batchnorm: bool = False  # float training with a BatchNorm after every conv but the classifier (folded away)
    mean: tuple[float, ...] = (0.485, 0.456, 0.406)
    std: tuple[float, ...] = (0.229, 0.224, 0.225)
    # quantization (used by the quantized model only)
    weight_bits: int = 8
    act_bits: int = 8
    bias_bits: int = 8
    output_bits: int = 16
    layer_weight_bits: dict[str, int] = field(default_factory=dict)
    layer_act_bits: dict[str, int] = field(default_factory=dict)

    def __post_init__(self):
        self.pool_after = tuple(self.pool_after)
        self.mean = tuple(float(m) for m in self.mean)
        self.std = tuple(float(s) for s in self.std)
        self.validate()

    # --- derived structure -------------------------------------------------------------------
    @property
    def conv1_channels(self) -> int:
        return _scaled(96 if self.stem == "v1.0" else 64, self.width_mult)

    @property
    def conv1_geometry(self) -> tuple[int, int, int]:
        """(kernel, stride, padding) of conv1."""
        return {"v1.0": (7, 2, 0), "v1.1": (3, 2, 0), "small": (3, 1, 1)}[self.stem]

    def fires(self) -> list[FireSpec]:
        specs, cin = [], self.conv1_channels
        for i in range(self.num_fires):
            e = self.base_e + self.incr_e * (i // self.freq)
            e3 = _scaled(e * self.pct3x3, self.width_mult) if self.pct3x3 > 0 else 0
            e1 = _scaled(e * (1 - self.pct3x3), self.width_mult) if self.pct3x3 < 1 else 0
            s = _scaled(self.sr * e, self.width_mult)
            cout = e1 + e3
            if self.bypass == "none" or (self.bypass == "simple" and cin != cout):
                bypass = "none"
            else:
                bypass = "identity" if cin == cout else "conv"
            num = i + 2
            specs.append(FireSpec(f"fire{num}", cin, s, e1, e3, bypass, num in self.pool_after))
            cin = cout
        return specs

    def feature_sizes(self) -> list[tuple[str, int]]:
        """Spatial size after conv1, each pool and the last fire, for shape checks."""
        k, s, p = self.conv1_geometry
        size = (self.input_size + 2 * p - k) // s + 1
        out = [("conv1", size)]
        size = _pool_size(size, self.ceil_mode, self.pool_kernel)
        out.append(("pool1", size))
        for f in self.fires():
            if f.pool_after:
                size = _pool_size(size, self.ceil_mode, self.pool_kernel)
                out.append((f"pool_{f.name}", size))
        return out

    def layer_names(self) -> tuple[list[str], list[str]]:
        """Names accepted in layer_weight_bits and layer_act_bits."""
        weights, acts = ["conv1"], ["conv1"]
        for f in self.fires():
            weights += [f"{f.name}.squeeze", f"{f.name}.expand1x1", f"{f.name}.expand3x3"]
            acts += [f"{f.name}.squeeze", f"{f.name}.expand"]
            if f.bypass == "conv":
                weights.append(f"{f.name}.bypass")
            if f.bypass != "none":
                acts.append(f"{f.name}.add")
        weights.append("classifier")
        acts.append("classifier")
        return weights, acts

    def weight_bits_of(self, name: str) -> int:
        return self.layer_weight_bits.get(name, self.weight_bits)

    def act_bits_of(self, name: str) -> int:
        return self.layer_act_bits.get(name, self.act_bits)

    # --- validation and (de)serialisation ----------------------------------------------------
    def validate(self) -> None:
        def need(cond, what, expected):
            if not cond:
                raise UserError(f"model config: {what}; expected {expected}")

        need(self.stem in ("v1.0", "v1.1", "small"), f"stem {self.stem!r}", "v1.0, v1.1 or small")
        need(self.bypass in BYPASS_MODES, f"bypass {self.bypass!r}", "none, simple or complex")
        need(self.in_channels >= 1, f"in_channels {self.in_channels}", "at least 1")
        need(self.num_classes >= 2, f"num_classes {self.num_classes}", "at least 2")
        need(1 <= self.num_fires <= 16, f"num_fires {self.num_fires}", "1..16")
        need(self.freq >= 1 and self.base_e >= 1 and self.incr_e >= 0,
             f"freq/base_e/incr_e = {self.freq}/{self.base_e}/{self.incr_e}", "freq >= 1, base_e >= 1, incr_e >= 0")
        need(self.pool_kernel in (2, 3), f"pool_kernel {self.pool_kernel}", "2 or 3")
        need(0.0 <= self.pct3x3 <= 1.0, f"pct3x3 {self.pct3x3}", "0..1")
        need(0.0 < self.sr <= 1.0, f"sr {self.sr}", "in (0, 1]")
        need(self.width_mult > 0, f"width_mult {self.width_mult}", "> 0")
        need(len(self.mean) == len(self.std) == self.in_channels,
             f"mean/std have {len(self.mean)}/{len(self.std)} entries", f"{self.in_channels} (one per input channel)")
        for name, bits in [("weight_bits", self.weight_bits), ("act_bits", self.act_bits),
                           *[(f"weight bits of {k}", v) for k, v in self.layer_weight_bits.items()],
                           *[(f"activation bits of {k}", v) for k, v in self.layer_act_bits.items()]]:
            need(isinstance(bits, int) and BIT_RANGE[0] <= bits <= BIT_RANGE[1], f"{name} = {bits}",
                 f"an integer from {BIT_RANGE[0]} to {BIT_RANGE[1]}")
        need(2 <= self.bias_bits <= 32, f"bias_bits = {self.bias_bits}", "2..32")
        # <= 16: keeps float32 (Brevitas) and exact rounding of the average pool's output equal
        need(8 <= self.output_bits <= 16, f"output_bits = {self.output_bits}", "8..16")
        wnames, anames = self.layer_names()
        for key, names, kind in [(self.layer_weight_bits, wnames, "weight"), (self.layer_act_bits, anames, "activation")]:
            unknown = sorted(set(key) - set(names))
            need(not unknown, f"unknown layer(s) {unknown} in per-layer {kind} bits", f"names from {names}")
        sizes = self.feature_sizes()
        need(all(s >= 1 for _, s in sizes), f"input_size {self.input_size} shrinks to nothing ({sizes})",
             "a larger input or fewer pools")

    def to_dict(self) -> dict:
        d = dataclasses.asdict(self)
        d["pool_after"], d["mean"], d["std"] = list(self.pool_after), list(self.mean), list(self.std)
        return d

    @classmethod
    def from_dict(cls, d: dict) -> "ModelConfig":
        known = {f.name for f in dataclasses.fields(cls)}
        unknown = sorted(set(d) - known)
        if unknown:
            raise UserError(f"model config: unknown key(s) {unknown}; expected keys from {sorted(known)}")
        return cls(**d)


def _scaled(channels: float, mult: float) -> int:
    return max(1, int(round(channels * mult)))


def _pool_size(size: int, ceil_mode: bool, kernel: int = 3) -> int:
    return pool_out(size, kernel, 2, ceil_mode=ceil_mode)


IMAGENET = dict(in_channels=3, num_classes=1000, input_size=224)
FASHION_MNIST = dict(in_channels=1, num_classes=10, input_size=28, mean=(0.2860,), std=(0.3530,))

PRESETS: dict[str, dict] = {
    # torchvision layouts (ImageNet size, 1000 classes; no BatchNorm, as torchvision's weights have none)
    "v1.0": dict(IMAGENET, stem="v1.0", pool_after=(4, 8)),
    "v1.1": dict(IMAGENET, stem="v1.1", pool_after=(3, 5)),
    # small-input members: v1.1 widths, 3x3 stride-1 stem
    "small": dict(IMAGENET, stem="small", pool_after=(3, 5), input_size=32, num_classes=10, batchnorm=True),
    # the shipped default: Fashion-MNIST, 4-bit weights (8-bit first and last layer), 8-bit activations
    "default": dict(FASHION_MNIST, stem="small", pool_after=(3, 5), weight_bits=4, act_bits=8, batchnorm=True,
                    layer_weight_bits={"conv1": 8, "classifier": 8}),
}


def preset(name: str, **overrides) -> ModelConfig:
    if name not in PRESETS:
        raise UserError(f"unknown model preset {name!r}; expected one of {', '.join(PRESETS)}")
    return ModelConfig(**{**PRESETS[name], **overrides})
