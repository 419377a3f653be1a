"""Convolution: any square kernel, stride and padding; bias, optional ReLU, requantisation.

QONNX `Conv` (with `Quant`ed weights and bias, then `Relu` and an activation `Quant`) -> `SqzConv`;
HLS `sqz::conv` (templates/sqz_layers.h), RTL `sqz_conv` (templates/rtl/sqz_conv.sv).
"""
from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from sqzfpga.errors import UserError
from sqzfpga.frontend.lower import Const, check_layout, node_where
from sqzfpga.hls.types import accum_type, store_type
from sqzfpga.ir.registry import ConvPart, LayerType, register
from sqzfpga.ir.types import QType
from sqzfpga.jinja import render
from sqzfpga.ir.schema import ConvWeights, Geometry, Window
from sqzfpga.model import reference
from sqzfpga.rtl.rom import ConvSpec, line_rows, line_style
from sqzfpga.rtl.unit import Unit


@dataclass(frozen=True)
class ConvAttrs:
    geo: Geometry
    window: Window
    conv: ConvWeights


def hls_add_conv(layer, prefix: str, in_q: QType, conv: ConvWeights) -> dict:
    """Weights and bias of one (sub-)convolution as hls4ml weight variables; the config values."""
    w, wq = conv.w, conv.wq
    if conv.b is None:
        b, bqs = np.zeros(w.shape[0], dtype=np.int64), QType(1, 0, False)
    else:
        b, bqs = conv.b, conv.bq
    layer.add_weights_variable(name=f"{prefix}weight", var_name=f"{prefix}w{{index}}", precision=store_type(wq),
                               data=w.astype(np.float64).reshape(-1) * 2.0 ** -wq.frac)
    layer.add_weights_variable(name=f"{prefix}bias", var_name=f"{prefix}b{{index}}", precision=store_type(bqs),
                               data=b.astype(np.float64) * 2.0 ** -bqs.frac)
    acc, width = accum_type(in_q, w, wq, conv.b, conv.bq)
    return {"accum_t": acc, "accum_width": width, "n_filt": w.shape[0], "kernel": w.shape[1],
            "relu": "true" if conv.relu else "false"}


def weight_types(node, prefix: str) -> dict:
    return {"weight_t": node.get_weights(f"{prefix}weight").type.name,
            "bias_t": node.get_weights(f"{prefix}bias").type.name}


@register
class Conv(LayerType):
    op, kind, short, onnx_ops = "SqzConv", "conv", "conv", ("Conv",)
    hls_function = "conv_function.cpp.jinja"

    def parse(self, walk, node, attrs):
        a = walk.quantized(node)
        wq, bq = walk.const(node, 1), walk.const(node, 2)
        check_layout(node, a)
        if attrs.get("group", 1) != 1 or tuple(attrs.get("dilations", (1, 1))) != (1, 1) \
                or attrs.get("auto_pad", b"NOTSET") not in (b"NOTSET", "NOTSET"):
            raise UserError(f"{node_where(node)}: grouped, dilated or auto_pad convolutions are not supported")
        wi = wq.ints if node.domain == reference.CHANNELS_LAST else wq.ints.transpose(0, 2, 3, 1)  # O, kh, kw, I
        o_ch, kh, kw, i_ch = wi.shape
        if kh != kw or i_ch != a.shape[2]:
            raise UserError(f"{node_where(node)}: kernel {kh}x{kw} over {i_ch} channels, input has "
                            f"{a.shape[2]}; only square kernels are supported")
        s = tuple(attrs.get("strides", (1, 1)))
        p = tuple(attrs.get("pads", (0, 0, 0, 0)))
        if s[0] != s[1]:
            raise UserError(f"{node_where(node)}: strides {list(s)}; only equal strides are supported")
        oh = (a.shape[0] + p[0] + p[2] - kh) // s[0] + 1
        ow = (a.shape[1] + p[1] + p[3] - kw) // s[1] + 1
        walk.add(node, {"kind": "conv", "in": a, "w": Const(wi, wq.q), "b": bq, "k": kh, "s": s[0], "pads": p,
                        "relu": False, "node": node.name}, (oh, ow, o_ch))

    def attributes(self, op):
        return ConvWeights.of_op(op).attributes("") + Window(op["k"], op["s"], tuple(op["pads"])).attributes()

    def load(self, attrs):
        where = "SqzConv layer"
        return ConvAttrs(Geometry.load(attrs, where), Window.load(attrs, where), ConvWeights.load(attrs, "", where))

    # ---- HLS ----
    def hls_weights(self, layer):
        a = self.load(layer.attributes)
        layer.set_attr("conv", hls_add_conv(layer, "", a.geo.in_q, a.conv))

    def hls_config(self, node, geometry):
        return render("conv_config.h.jinja", **{**geometry, **node.get_attr("conv"), **weight_types(node, "")})

    def conv_parts(self, layer):
        a = self.load(layer.attributes)
        oh, ow, _ = a.geo.out_shape
        return [ConvPart("conv", "", layer.get_attr("conv"), a.geo.in_shape[2], a.geo.in_q.bits, oh * ow)]

    def line_buffers(self, layer):
        a = self.load(layer.attributes)
        _, w, c = a.geo.in_shape
        return [(c * a.geo.in_q.bits, a.window.k * w)]

    def window(self, attrs):
        return self.load(attrs).window

    # ---- RTL ----
    def rtl(self, layer, name):
        a = self.load(layer.attributes)
        (h, w, c), (oh, ow, oc) = a.geo.in_shape, a.geo.out_shape
        k, s, pads = a.window.k, a.window.s, list(a.window.pads)
        xq, oq = a.geo.in_q, a.geo.out_q
        flat = k == 1 and s == 1 and not any(pads)  # a 1x1 conv sees one column of h*w pixels: 2 pixel slots
        spec = ConvSpec(Unit(name, "conv", h * w, oh * ow, cin=c, segments=[(oc, k)], row_px=1 if flat else w,
                             rows=line_rows(k)), xq, oq, [a.conv.segment()])
        if flat:
            h, w, oh, ow = h * w, 1, oh * ow, 1

        def render_sv(folder):
            nci, r = c // spec.unit.pi, line_rows(k)
            p = {"H": h, "W": w, "C": c, "IB": xq.bits, "ISIGNED": int(xq.signed), "K": k, "S": s, "PT": pads[0],
                 "PL": pads[1], "OH": oh, "OW": ow, "R": r, "IN_CHUNKS": nci, "NSEG": 1,
                 "NCO0": oc // spec.unit.po, "KS0": k, "OB": oq.bits, "OSIGNED": int(oq.signed),
                 "LBSTYLE": line_style(spec.unit), **spec.params(folder, name)}
            return "sqz_conv", p
        return [spec.unit], render_sv
