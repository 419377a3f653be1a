"""The hardware layer types, one module each, and the lowering that uses them.

Importing this package registers every layer type (sqzfpga.ir.registry); a new layer type is a
module here plus its name in MODULES. `lower` is the QONNX -> canonical-graph pass over them.
"""
import importlib

from sqzfpga.frontend.lower import lower
from sqzfpga.ir.registry import REGISTRY

# the registration line: one name per layer type, in op order
MODULES = ("conv", "fire", "maxpool", "gap", "avgpool", "dense", "table")

for _module in MODULES:
    importlib.import_module(f"{__name__}.{_module}")

__all__ = ["MODULES", "REGISTRY", "lower"]
