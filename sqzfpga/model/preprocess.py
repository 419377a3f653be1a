"""Input preprocessing: what the graph input receives for the image bytes the DMA carries.

x = (byte * scale - mean_c) / std_c per input channel c, fed to the model's input Quant node. The
identity (scale 1, mean 0, std 1) is the default: raw pixels, as sqzfpga's own models take them.
A model trained on other inputs ([0, 1], per-channel mean and std) states its preprocessing once, by
options (`--input-scale`, `--mean`, `--std`) or in the ONNX file's metadata_props (METADATA keys); the
build stores the options into its model.onnx, so every later reader of that file (the reference
executor, the lowering's input table, a re-run of a step) applies the same preprocessing.
"""
from __future__ import annotations

from dataclasses import dataclass, field
from fractions import Fraction

import numpy as np
import onnx

from sqzfpga.errors import UserError

METADATA = {"scale": "sqzfpga.input_scale", "mean": "sqzfpga.mean", "std": "sqzfpga.std"}  # metadata_props keys
OPTIONS = {"scale": "--input-scale", "mean": "--mean", "std": "--std"}


@dataclass(frozen=True)
class Preprocess:
    """x = (byte * scale - mean[c]) / std[c]; one mean or std value stands for every channel."""
    scale: float = 1.0
    mean: tuple[float, ...] = (0.0,)
    std: tuple[float, ...] = (1.0,)
    source: str = field(default="default", compare=False)  # "default", "options" or "model metadata"

    @property
    def stated(self) -> bool:
        return self.source != "default"

    @property
    def identity(self) -> bool:
        return self.scale == 1.0 and set(self.mean) == {0.0} and set(self.std) == {1.0}

    def per_channel(self, channels: int) -> tuple[np.ndarray, np.ndarray]:
        """(mean, std) as arrays of `channels` values; a list of another length is one error line."""
        out = []
        for name, values in (("mean", self.mean), ("std", self.std)):
            if len(values) not in (1, channels):
                raise UserError(f"{self.where(name)} {_text(values)}: {len(values)} values for a {channels}-channel "
                                f"input; give one value or {channels}")
            out.append(np.broadcast_to(np.asarray(values, dtype=np.float64), (channels,)))
        return out[0], out[1]

    def apply(self, images: np.ndarray) -> np.ndarray:
        """uint8 N x C x H x W images -> the float64 graph input (the one place this formula is computed)."""
        mean, std = self.per_channel(images.shape[1])
        x = images.astype(np.float64)
        if self.identity:
            return x
        return (x * self.scale - mean[None, :, None, None]) / std[None, :, None, None]

    def where(self, name: str) -> str:
        return OPTIONS[name] if self.source == "options" else f"metadata {METADATA[name]}"

    def describe(self) -> str:
        if self.identity:
            return "raw bytes 0..255 (no preprocessing stated)" if not self.stated else "raw bytes 0..255"
        return f"(byte * {self.scale:.6g} - mean {_text(self.mean)}) / std {_text(self.std)}"


def _text(values) -> str:
    return ",".join(f"{v:.6g}" for v in values)


def _number(text: str, option: str) -> float:
    """A finite number, or a fraction such as 1/255."""
    try:
        v = float(Fraction(text.strip()))
    except (ValueError, ZeroDivisionError):
        raise UserError(f"{option} {text!r}: not a number; expected e.g. 0.5 or 1/255") from None
    return v


def _numbers(text: str, option: str) -> tuple[float, ...]:
    return tuple(_number(t, option) for t in text.split(","))


def _checked(pre: Preprocess) -> Preprocess:
    if not (np.isfinite(pre.scale) and pre.scale > 0):
        raise UserError(f"{pre.where('scale')} {pre.scale:g}: expected a positive number (e.g. 1/255)")
    if not all(np.isfinite(pre.mean)):
        raise UserError(f"{pre.where('mean')} {_text(pre.mean)}: expected finite numbers")
    if not all(np.isfinite(s) and s > 0 for s in pre.std):
        raise UserError(f"{pre.where('std')} {_text(pre.std)}: expected positive numbers")
    return pre


def from_options(scale: str | None, mean: str | None, std: str | None) -> Preprocess | None:
    """The options' preprocessing (None when none is given); one left out takes the identity's value."""
    if scale is None and mean is None and std is None:
        return None
    return _checked(Preprocess(_number(scale, "--input-scale") if scale is not None else 1.0,
                               _numbers(mean, "--mean") if mean is not None else (0.0,),
                               _numbers(std, "--std") if std is not None else (1.0,), "options"))


def from_metadata(model: onnx.ModelProto) -> Preprocess | None:
    """The preprocessing stored in the model's metadata_props (None when it holds none)."""
    props = {p.key: p.value for p in model.metadata_props}
    if not any(k in props for k in METADATA.values()):
        return None
    try:
        pre = Preprocess(float(props.get(METADATA["scale"], "1")),
                         tuple(float(v) for v in props.get(METADATA["mean"], "0").split(",")),
                         tuple(float(v) for v in props.get(METADATA["std"], "1").split(",")), "model metadata")
    except ValueError:
        found = {k: props[k] for k in METADATA.values() if k in props}
        raise UserError(f"ONNX metadata {found}: not comma-separated numbers; fix or remove these "
                        "metadata_props, or state the preprocessing with --input-scale/--mean/--std") from None
    return _checked(pre)


def of(model: onnx.ModelProto) -> Preprocess:
    """What the model's graph input receives: its stored preprocessing, else the identity."""
    return from_metadata(model) or Preprocess()


def resolve(model: onnx.ModelProto, options: Preprocess | None, where: str) -> Preprocess:
    """The options' preprocessing, else the stored one, else the identity; options that disagree with
    the model's metadata are one error line."""
    stored = from_metadata(model)
    if options is not None and stored is not None and options != stored:
        raise UserError(f"{where}: options state the input preprocessing {options.describe()}, its metadata "
                        f"({', '.join(METADATA.values())}) {stored.describe()}; drop the options or make them agree")
    pre = options or stored or Preprocess()
    pre.per_channel(model.graph.input[0].type.tensor_type.shape.dim[1].dim_value)  # a list of another length
    return pre


def for_checkpoint(options: Preprocess | None, where: str) -> Preprocess:
    """A checkpoint's preprocessing: sqzfpga's models train and run on raw bytes, so options other than
    the identity contradict it (one error line)."""
    if options is not None and not options.identity:
        raise UserError(f"{where}: sqzfpga's checkpoints take raw bytes 0..255, the options state "
                        f"{options.describe()}; drop --input-scale/--mean/--std (they describe a QONNX model "
                        "trained on preprocessed inputs)")
    return Preprocess()


def store(model: onnx.ModelProto, pre: Preprocess) -> None:
    """Write `pre` into the model's metadata_props (replacing any stored preprocessing)."""
    keep = [p for p in model.metadata_props if p.key not in METADATA.values()]
    del model.metadata_props[:]
    model.metadata_props.extend(keep)
    values = {"scale": repr(pre.scale), "mean": ",".join(map(repr, pre.mean)), "std": ",".join(map(repr, pre.std))}
    for name, key in METADATA.items():
        model.metadata_props.add(key=key, value=values[name])
