"""The hardware layer types, one module each, and the lowering that uses them.

Importing this package registers every layer type (sqzfpga.ir.registry); a new layer is a module
here plus one line below. `lower` is the QONNX -> canonical-graph pass over the registered types.
"""
from sqzfpga.frontend.lower import lower
from sqzfpga.ir.registry import REGISTRY
from sqzfpga.layers import conv, fire, gap, maxpool  # registration: one entry per layer type

__all__ = ["REGISTRY", "lower", "conv", "fire", "gap", "maxpool"]
