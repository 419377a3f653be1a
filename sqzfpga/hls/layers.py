"""sqzfpga's layers in hls4ml: one hls4ml layer class, config and call template per registered layer type.

Registered through hls4ml's extension API (`register_layer`, `register_onnx_layer_handler`,
backend `register_template` / `register_source`), for the Vitis and Vivado backends. What each
layer computes for its templates (weights, accumulator types, config values) is in its module in
sqzfpga/layers/; this file only connects the registry to hls4ml.
"""
from __future__ import annotations

import hls4ml
import numpy as np
from hls4ml.backends.template import FunctionCallTemplate, LayerConfigTemplate
from hls4ml.model.attributes import ConfigurableAttribute
from hls4ml.model.layers import Layer
from onnx import helper, numpy_helper

from sqzfpga.frontend.lower import DOMAIN
from sqzfpga.hls.types import hw_type
from sqzfpga.ir.registry import LayerType
from sqzfpga.jinja import TEMPLATES, render
from sqzfpga.layers import REGISTRY

BACKENDS = ("Vitis", "Vivado")


class SqzLayer(Layer):
    """An hls4ml layer of one sqzfpga layer type (the class attribute `layer_type`)."""
    # the planner's folding of the layer's units (hls.kernel.fold_of), from the config's "Fold"
    _expected_attributes = [ConfigurableAttribute("fold", value_type=str, default="")]
    layer_type: LayerType

    def initialize(self):
        self.add_output_variable(list(self.attributes["out_shape"]), precision=hw_type(self.attributes["out_q"]))
        self.layer_type.hls_weights(self)


def _geometry(node) -> dict:
    a = node.attributes
    (h, w, c), (oh, ow, oc) = a["in_shape"], a["out_shape"]
    pads = a.get("pads", [0, 0, 0, 0])
    return {"name": f"config{node.index}", "in_height": h, "in_width": w, "n_chan": c, "out_height": oh,
            "out_width": ow, "n_out": oc, "pad_top": pads[0], "pad_left": pads[1], "stride": a.get("s", 1),
            "kernel": a.get("k", 1)}


def _templates(cls, layer_type: LayerType) -> tuple[type, type]:
    """The config and function-call templates of one layer class."""
    class Config(LayerConfigTemplate):
        def __init__(self):
            super().__init__(cls)

        def format(self, node):
            return layer_type.hls_config(node, _geometry(node))

    class Function(FunctionCallTemplate):
        def __init__(self):
            super().__init__(cls, include_header=[f"nnet_utils/{h}" for h in layer_type.headers])

        def format(self, node):
            params = self._default_function_params(node)
            weights = [v.name for v in node.get_weights()]
            if weights:
                params["w"], params["b"] = weights[0], weights[1]
            return render(layer_type.hls_function, **params, weights=weights, **layer_type.hls_call(node))

    Config.__name__, Function.__name__ = f"{cls.__name__}Config", f"{cls.__name__}Function"
    return Config, Function


def onnx_handler(node, input_names, input_shapes, graph) -> dict:
    """hls4ml ONNX frontend handler for every sqzfpga-domain node: attributes pass through as numbers."""
    if node.domain != DOMAIN:
        raise ValueError(f"node {node.name}: expected domain {DOMAIN}")
    layer = {"name": node.name, "class_name": node.op_type, "inputs": list(input_names), "outputs": list(node.output)}
    for a in node.attribute:
        v = helper.get_attribute_value(a)
        layer[a.name] = numpy_helper.to_array(v).astype(np.int64) if a.type == a.TENSOR else (
            v.decode() if isinstance(v, bytes) else v)
    return layer


_registered = False
_formatters: dict[str, tuple] = {}  # op -> (config template, function template) instances


def reformat(hm) -> None:
    """Render every sqzfpga layer's config and call again: hls4ml renders them while converting, before
    the stream beats are set (hls.convert), and the configs depend on their input's beat."""
    for layer in hm.get_layers():
        for template in _formatters.get(layer.class_name, ()):
            template.transform(hm, layer)


def register() -> None:
    """Make hls4ml know every registered layer type (idempotent)."""
    global _registered
    if _registered:
        return
    from hls4ml.converters.onnx_to_hls import layer_handlers
    headers = sorted({h for t in REGISTRY.values() for h in t.headers})
    for op, layer_type in REGISTRY.items():
        cls = type(op, (SqzLayer,), {"layer_type": layer_type})
        hls4ml.model.layers.register_layer(op, cls)
        if op not in layer_handlers:
            hls4ml.converters.register_onnx_layer_handler(op, onnx_handler)
        config, function = _templates(cls, layer_type)
        _formatters[op] = (config(), function())
        for name in BACKENDS:
            backend = hls4ml.backends.get_backend(name)
            backend.register_template(config)
            backend.register_template(function)
    for name in BACKENDS:
        for header in headers:
            hls4ml.backends.get_backend(name).register_source(TEMPLATES / header)
    _registered = True
