"""The layer registry: one description per hardware layer type, read by every stage.

A hardware layer type (conv, fire, max pool, global average pool, ...) is one module in
`sqzfpga/layers/` holding a `LayerType` subclass: how QONNX nodes become it (`parse`), its typed
attributes (`Schema`, checked on load), how it is written into the canonical graph (`attributes`),
its HLS implementation (weights, config and call templates), its memories and multipliers for the
HLS fit estimate, and its RTL units with their SystemVerilog parameters (the planner and the cost
model price those units). The lowering, the hls4ml registration, the fit check, the RTL generator,
the planner and the cost model only iterate this registry, so a new layer is one module plus its
templates, and a layer type that leaves out a method fails when its module is imported (the
`register` decorator instantiates it), never by being silently undercounted.

The registry lives here, below every stage that reads it; the layer modules (higher, since they use
both backends' helpers) add themselves when `sqzfpga.layers` is imported.
"""
from __future__ import annotations

import abc
from typing import Any, ClassVar, Mapping

from sqzfpga.errors import UserError

REGISTRY: dict[str, "LayerType"] = {}  # canonical op type (e.g. "SqzConv") -> its layer type


class LayerType(abc.ABC):
    """A hardware layer type; subclasses are registered with `@register` and never instantiated elsewhere."""
    op: ClassVar[str]                   # canonical ONNX op type, domain sqzfpga ("SqzConv")
    kind: ClassVar[str]                 # the lowered op's kind in the frontend ("conv")
    short: ClassVar[str]                # canonical layer names are <short><n> ("conv1", "pool2")
    onnx_ops: ClassVar[tuple[str, ...]] = ()  # QONNX op types whose nodes `parse` turns into this layer
    hls_function: ClassVar[str]         # Jinja template of the HLS call (templates/)
    headers: ClassVar[tuple[str, ...]] = ("sqz_layers.h",)  # C++ library headers (templates/) the call needs
    last_only: ClassVar[bool] = False   # only allowed as the network's last layer, or before `head` layers
    head: ClassVar[bool] = False        # a classifier head's layer: may follow a last_only layer (its 1 x 1 map)

    # ---- frontend ---------------------------------------------------------------------------------
    def parse(self, walk, node, attrs: dict) -> None:
        """Turn one QONNX node (of `onnx_ops`) into a lowered op on `walk` (frontend.lower.Walk)."""
        raise NotImplementedError(f"{self.op} has no QONNX op of its own")

    def fuse(self, lowered):
        """A pattern pass over the lowered graph (frontend.lower.Lowered) that makes ops of this layer out
        of others (the Fire module is made of convs and a concat); the default finds nothing."""
        return lowered

    @abc.abstractmethod
    def attributes(self, op: dict) -> list[tuple[str, Any]]:
        """(name, value) of the canonical node's layer-specific attributes, from the lowered op, in order."""

    @abc.abstractmethod
    def load(self, attrs: Mapping[str, Any]) -> Any:
        """The typed attributes (a dataclass) of one canonical layer; raises UserError naming what is wrong."""

    # ---- HLS (hls4ml) -----------------------------------------------------------------------------
    @abc.abstractmethod
    def hls_weights(self, layer) -> None:
        """Add the layer's weight variables to the hls4ml layer and set the config values it needs."""

    @abc.abstractmethod
    def hls_config(self, node, geometry: dict) -> str:
        """The layer's C++ config struct(s), rendered from its config template."""

    @abc.abstractmethod
    def hls_beat(self, layer) -> int:
        """Channels per beat of the layer's output stream (its last unit's chunk: a conv's PO, a pool's PI)."""

    @abc.abstractmethod
    def hls_dataflow(self, layer, bin_: int):
        """Its HLS processes and internal streams (hls.cycles.Dataflow) when its input beats carry `bin_`
        channels: the cycle model's trip counts and the FIFOs the fit counts."""

    def hls_call(self, node) -> dict:
        """Extra values for the call template (the weights' pragmas, a variant's function name)."""
        return {}

    # ---- RTL --------------------------------------------------------------------------------------
    @abc.abstractmethod
    def rtl(self, layer, name: str):
        """(units, render) of the RTL: the planner's units, and render(folder) -> (SV module, parameters)
        once they are folded (it writes the layer's ROM files into folder)."""


def register(cls: type[LayerType]) -> type[LayerType]:
    """Class decorator: instantiate (an abstract method left out fails here, at import) and record it."""
    for attr in ("op", "kind", "short", "hls_function"):
        if not isinstance(getattr(cls, attr, None), str):
            raise TypeError(f"layer type {cls.__name__}: class attribute {attr!r} (a string) is missing")
    if cls.op in REGISTRY:
        raise TypeError(f"layer type {cls.__name__}: op {cls.op} is already registered")
    REGISTRY[cls.op] = cls()
    return cls


def get(op: str) -> LayerType:
    if op not in REGISTRY:
        raise UserError(f"layer type {op}: not a registered sqzfpga layer (known: {', '.join(sorted(REGISTRY))})")
    return REGISTRY[op]


def by_kind(kind: str) -> LayerType:
    return next(t for t in REGISTRY.values() if t.kind == kind)


def require(attrs: Mapping[str, Any], names: tuple[str, ...], where: str) -> None:
    """Every name present: a canonical graph written by another version, or edited, fails here by name."""
    missing = [n for n in names if attrs.get(n) is None]
    if missing:
        raise UserError(f"{where}: attribute(s) {', '.join(missing)} missing; expected a canonical graph written "
                        "by this sqzfpga version: rebuild from the model file")
