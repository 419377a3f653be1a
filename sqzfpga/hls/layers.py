"""sqzfpga's hls4ml layers: classes, ONNX handlers, config/function templates, one C++ header.

Registered through hls4ml's extension API (`register_layer`, `register_onnx_layer_handler`,
backend `register_template` / `register_source`), for the Vitis and Vivado backends. Each layer's
C++ comes from Jinja templates in `sqzfpga/templates/`; the layer only computes the numbers that
go into them (geometry, exact accumulator widths, fixed-point types).
"""
from __future__ import annotations

import hls4ml
import numpy as np
from hls4ml.backends.template import FunctionCallTemplate, LayerConfigTemplate
from hls4ml.model.attributes import ConfigurableAttribute
from hls4ml.model.layers import Layer
from onnx import helper, numpy_helper

from sqzfpga.frontend.lower import DOMAIN
from sqzfpga.ir.types import QType
from sqzfpga.hls.types import accum_type, cpp_type, fixed, hw_type, store_type
from sqzfpga.ir.arith import gap_widths
from sqzfpga.jinja import TEMPLATES, render

HEADER = TEMPLATES / "sqz_layers.h"
BACKENDS = ("Vitis", "Vivado")


class SqzLayer(Layer):
    _expected_attributes = [ConfigurableAttribute("reuse_factor", default=1)]

    def initialize(self):
        self.add_output_variable(list(self.attributes["out_shape"]), precision=hw_type(self.attributes["out_q"]))

    def add_conv(self, prefix: str, in_q: QType) -> dict:
        """Weights and bias of one (sub-)convolution as hls4ml weight variables; the config values."""
        a = self.attributes
        w, wq = a[f"{prefix}w"], QType.of(a[f"{prefix}wq"])
        b = a.get(f"{prefix}b")
        bq = QType.of(a[f"{prefix}bq"]) if b is not None else None
        if b is None:
            b, bqs = np.zeros(w.shape[0], dtype=np.int64), QType(1, 0, False)
        else:
            bqs = bq
        self.add_weights_variable(name=f"{prefix}weight", var_name=f"{prefix}w{{index}}", precision=store_type(wq),
                                  data=w.astype(np.float64).reshape(-1) * 2.0 ** -wq.frac)
        self.add_weights_variable(name=f"{prefix}bias", var_name=f"{prefix}b{{index}}", precision=store_type(bqs),
                                  data=b.astype(np.float64) * 2.0 ** -bqs.frac)
        acc, width = accum_type(in_q, w, wq, a.get(f"{prefix}b"), bq)
        return {"accum_t": acc, "accum_width": width, "n_filt": w.shape[0], "kernel": w.shape[1],
                "relu": "true" if a[f"{prefix}relu"] else "false"}


class SqzConv(SqzLayer):
    def initialize(self):
        super().initialize()
        self.set_attr("conv", self.add_conv("", QType.of(self.attributes["in_q"])))


class SqzMaxPool(SqzLayer):
    pass


class SqzGlobalAvgPool(SqzLayer):
    pass


class SqzFire(SqzLayer):
    def initialize(self):
        super().initialize()
        a = self.attributes
        in_q, sq_q = QType.of(a["in_q"]), QType.of(a["squeeze_q"])
        parts = {"squeeze": self.add_conv("squeeze_", in_q), "expand1x1": self.add_conv("e1_", sq_q),
                 "expand3x3": self.add_conv("e3_", sq_q)}
        if a["bypass"] == "conv":
            parts["bypass"] = self.add_conv("bypass_", in_q)
        self.set_attr("parts", parts)


def _geometry(node) -> dict:
    a = node.attributes
    (h, w, c), (oh, ow, oc) = a["in_shape"], a["out_shape"]
    pads = a.get("pads", [0, 0, 0, 0])
    return {"name": f"config{node.index}", "in_height": h, "in_width": w, "n_chan": c, "out_height": oh,
            "out_width": ow, "n_out": oc, "pad_top": pads[0], "pad_left": pads[1], "stride": a.get("s", 1),
            "kernel": a.get("k", 1), "reuse": node.get_attr("reuse_factor", 1)}


def _wtypes(node, prefix: str) -> dict:
    return {"weight_t": node.get_weights(f"{prefix}weight").type.name,
            "bias_t": node.get_weights(f"{prefix}bias").type.name}


class ConvConfig(LayerConfigTemplate):
    def __init__(self):
        super().__init__(SqzConv)

    def format(self, node):
        return render("conv_config.h.jinja", **{**_geometry(node), **node.get_attr("conv"), **_wtypes(node, "")})


class MaxPoolConfig(LayerConfigTemplate):
    def __init__(self):
        super().__init__(SqzMaxPool)

    def format(self, node):
        return render("maxpool_config.h.jinja", **_geometry(node))


class GapConfig(LayerConfigTemplate):
    def __init__(self):
        super().__init__(SqzGlobalAvgPool)

    def format(self, node):
        g = _geometry(node)
        iq, oq = QType.of(node.get_attr("in_q")), QType.of(node.get_attr("out_q"))
        shift, sum_width, num_width = gap_widths(iq, oq, g["in_height"] * g["in_width"])
        return render("gap_config.h.jinja", **g, in_signed="true" if iq.signed else "false", shift=shift,
                      sum_width=sum_width, num_width=num_width, out_min=oq.lo, out_max=oq.hi)


class FireConfig(LayerConfigTemplate):
    def __init__(self):
        super().__init__(SqzFire)

    def format(self, node):
        g = _geometry(node)
        a = node.attributes
        prefix = {"squeeze": "squeeze_", "expand1x1": "e1_", "expand3x3": "e3_", "bypass": "bypass_"}
        parts = []
        for role, conv in a["parts"].items():
            name = f"config{node.index}_{role}"
            geo = {**g, "name": name, "out_height": 1, "out_width": 1, "pad_top": 1 if role == "expand3x3" else 0,
                   "pad_left": 1 if role == "expand3x3" else 0, "stride": 1}
            parts.append({"name": name, "role": role,
                          "cpp": render("conv_config.h.jinja", **{**geo, **conv, **_wtypes(node, prefix[role])})})
        eq = QType.of(a["expand_q"])
        return render("fire_config.h.jinja", **g, parts=parts, n_squeeze=a["parts"]["squeeze"]["n_filt"],
                      n_expand1x1=a["parts"]["expand1x1"]["n_filt"], n_expand3x3=a["parts"]["expand3x3"]["n_filt"],
                      bypass={"none": 0, "identity": 1, "conv": 2}[a["bypass"]],
                      add_relu="true" if a.get("add_relu") else "false",
                      squeeze_t=cpp_type(a["squeeze_q"]), expand_t=cpp_type(eq),
                      add_t=fixed(eq.bits + 2, eq.frac, True))


def _function(cls, template):
    class Function(FunctionCallTemplate):
        def __init__(self):
            super().__init__(cls, include_header=["nnet_utils/sqz_layers.h"])

        def format(self, node):
            params = self._default_function_params(node)
            weights = [v.name for v in node.get_weights()]
            if weights:
                params["w"], params["b"] = weights[0], weights[1]
            return render(template, **params, weights=weights)

    Function.__name__ = f"{cls.__name__}Function"
    return Function


LAYERS = {"SqzConv": (SqzConv, ConvConfig, "conv_function.cpp.jinja"),
          "SqzMaxPool": (SqzMaxPool, MaxPoolConfig, "maxpool_function.cpp.jinja"),
          "SqzGlobalAvgPool": (SqzGlobalAvgPool, GapConfig, "gap_function.cpp.jinja"),
          "SqzFire": (SqzFire, FireConfig, "fire_function.cpp.jinja")}


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


def register() -> None:
    """Make hls4ml know sqzfpga's layers (idempotent)."""
    global _registered
    if _registered:
        return
    from hls4ml.converters.onnx_to_hls import layer_handlers
    for op, (cls, config, function) in LAYERS.items():
        hls4ml.model.layers.register_layer(op, cls)
        if op not in layer_handlers:
            hls4ml.converters.register_onnx_layer_handler(op, onnx_handler)
        for name in BACKENDS:
            backend = hls4ml.backends.get_backend(name)
            backend.register_template(config)
            backend.register_template(_function(cls, function))
    for name in BACKENDS:
        hls4ml.backends.get_backend(name).register_source(HEADER)
    _registered = True
