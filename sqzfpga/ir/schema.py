"""Typed attributes of the canonical graph that layer types share: the geometry and types of a canonical layer, its window,
and one convolution's integer weights (a conv, or a Fire's squeeze / expands / bypass)."""
from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Mapping

import numpy as np
from onnx import numpy_helper

from sqzfpga.errors import UserError
from sqzfpga.ir.registry import require
from sqzfpga.ir.types import QType


@dataclass(frozen=True)
class Geometry:
    """Input and output of one canonical layer: channels-last shapes and fixed-point types."""
    in_shape: tuple[int, int, int]   # H, W, C
    out_shape: tuple[int, int, int]
    in_q: QType
    out_q: QType

    NAMES = ("in_q", "out_q", "in_shape", "out_shape")  # their attribute names, in the graph's order

    @staticmethod
    def load(attrs: Mapping[str, Any], where: str) -> "Geometry":
        require(attrs, Geometry.NAMES, where)
        return Geometry(tuple(int(v) for v in attrs["in_shape"]), tuple(int(v) for v in attrs["out_shape"]),
                        QType.of(attrs["in_q"]), QType.of(attrs["out_q"]))

    @staticmethod
    def attributes(op: dict) -> list[tuple[str, Any]]:
        return [("in_q", op["in"].q.triple()), ("out_q", op["q"].triple()), ("in_shape", list(op["in"].shape)),
                ("out_shape", list(op["out"].shape))]


@dataclass(frozen=True)
class Window:
    """A sliding window: square kernel, equal strides, pads (top, left, bottom, right)."""
    k: int
    s: int
    pads: tuple[int, int, int, int]

    @staticmethod
    def load(attrs: Mapping[str, Any], where: str) -> "Window":
        require(attrs, ("k", "s", "pads"), where)
        return Window(int(attrs["k"]), int(attrs["s"]), tuple(int(p) for p in attrs["pads"]))

    def attributes(self) -> list[tuple[str, Any]]:
        return [("k", self.k), ("s", self.s), ("pads", list(self.pads))]


@dataclass(frozen=True)
class ConvWeights:
    """One convolution's integers: weights (F, K, K, C channels-last), optional bias, types, ReLU.

    In the canonical graph its attributes are `<prefix>w`, `<prefix>wq`, `<prefix>relu`, `<prefix>b`,
    `<prefix>bq`; this class is the only place that spells them."""
    w: np.ndarray
    wq: QType
    b: np.ndarray | None
    bq: QType | None
    relu: bool

    @staticmethod
    def of_op(op: dict) -> "ConvWeights":
        """From a lowered conv op of the frontend."""
        b = op["b"]
        return ConvWeights(op["w"].ints, op["w"].q, None if b is None else b.ints, None if b is None else b.q,
                           bool(op["relu"]))

    @staticmethod
    def load(attrs: Mapping[str, Any], prefix: str, where: str) -> "ConvWeights":
        require(attrs, (f"{prefix}w", f"{prefix}wq", f"{prefix}relu"), where)
        w = np.asarray(attrs[f"{prefix}w"], dtype=np.int64)
        if w.ndim != 4:
            raise UserError(f"{where}: attribute {prefix}w has shape {list(w.shape)}; expected filters x K x K x "
                            "channels")
        b = attrs.get(f"{prefix}b")
        if b is not None:
            require(attrs, (f"{prefix}bq",), where)
        return ConvWeights(w, QType.of(attrs[f"{prefix}wq"]), None if b is None else np.asarray(b, dtype=np.int64),
                           QType.of(attrs[f"{prefix}bq"]) if b is not None else None, bool(attrs[f"{prefix}relu"]))

    def attributes(self, prefix: str) -> list[tuple[str, Any]]:
        out = [(f"{prefix}w", numpy_helper.from_array(self.w.astype(np.int32))), (f"{prefix}wq", self.wq.triple()),
               (f"{prefix}relu", int(self.relu))]
        if self.b is not None:
            out += [(f"{prefix}b", numpy_helper.from_array(self.b.astype(np.int32))), (f"{prefix}bq", self.bq.triple())]
        return out

    @property
    def filters(self) -> int:
        return int(self.w.shape[0])

    @property
    def kernel(self) -> int:
        return int(self.w.shape[1])

    def segment(self, ks: int | None = None) -> dict:
        """The RTL's segment of a conv-like unit (rtl/rom.py ConvSpec), computed over a ks x ks kernel."""
        return {"w": self.w, "wq": self.wq, "b": self.b, "bq": self.bq, "relu": self.relu,
                "ks": self.kernel if ks is None else ks}

