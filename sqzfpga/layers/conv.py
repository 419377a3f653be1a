"""Convolution: any square kernel, stride and padding; bias, optional ReLU, requantisation.

QONNX `Conv` (with `Quant`ed weights and bias, then `Relu` and an activation `Quant`) -> `SqzConv`;
HLS `sqz::conv` (templates/sqz_layers.h), RTL `sqz_conv` (templates/rtl/sqz_conv.sv).
"""
from __future__ import annotations

from dataclasses import dataclass


from sqzfpga.errors import UserError
from sqzfpga.frontend.lower import Const, check_layout, node_where
from sqzfpga.hls.kernel import apply_fold, beat_of, conv_struct, conv_weights, sweep, unit_dataflow, weight_pragmas
from sqzfpga.ir.registry import LayerType, register
from sqzfpga.ir.schema import ConvWeights, Geometry, Window
from sqzfpga.model import reference
from sqzfpga.rtl.rom import ConvSpec, line_style, window_rows
from sqzfpga.rtl.unit import Unit


@dataclass(frozen=True)
class ConvAttrs:
    geo: Geometry
    window: Window
    conv: ConvWeights


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
        where = f"{self.op} layer"
        return ConvAttrs(Geometry.load(attrs, where), Window.load(attrs, where), ConvWeights.load(attrs, "", where))

    # ---- HLS ----
    def _hls(self, layer):
        """The typed attributes and the unit's ConvSpec, folded as the layer's `fold` attribute says."""
        a = self.load(layer.attributes)
        spec = self._spec(a, "u")
        apply_fold([spec.unit], "u", layer.get_attr("fold", ""))
        return a, spec

    def _sweep(self, a, spec, bin_):
        (h, w, c), (oh, ow, _) = a.geo.in_shape, a.geo.out_shape
        return sweep(h, w, c, a.window.k, a.window.s, a.window.pads, oh, ow, bin_, spec.unit.nstep)

    def hls_weights(self, layer):
        conv_weights(layer, "", self._hls(layer)[1])

    def hls_beat(self, layer):
        return self._hls(layer)[1].unit.po

    def hls_config(self, node, geometry):
        a, spec = self._hls(node)
        return conv_struct(geometry["name"], spec, self._sweep(a, spec, beat_of(node.get_input_variable())), node, "")

    def hls_call(self, node):
        return {"pragmas": weight_pragmas(node, "", self._hls(node)[1])}

    def hls_dataflow(self, layer, bin_):
        a, spec = self._hls(layer)
        return unit_dataflow(spec.unit, self._sweep(a, spec, bin_), layer.name)

    # ---- RTL ----
    def _spec(self, a, name) -> ConvSpec:
        (h, w, c), (oh, ow, oc) = a.geo.in_shape, a.geo.out_shape
        k, s, pads = a.window.k, a.window.s, a.window.pads
        flat = k == 1 and s == 1 and not any(pads)  # a 1x1 conv sees one column of h*w pixels: 2 pixel slots
        return ConvSpec(Unit(name, "conv", h * w, oh * ow, cin=c, segments=[(oc, k)], row_px=1 if flat else w,
                             rows=window_rows(k, s, h, oh, pads[0])), a.geo.in_q, a.geo.out_q, [a.conv.segment()])

    def rtl(self, layer, name):
        a = self.load(layer.attributes)
        (h, w, c), (oh, ow, oc) = a.geo.in_shape, a.geo.out_shape
        k, s, pads = a.window.k, a.window.s, list(a.window.pads)
        xq, oq = a.geo.in_q, a.geo.out_q
        spec = self._spec(a, name)
        if k == 1 and s == 1 and not any(pads):
            h, w, oh, ow = h * w, 1, oh * ow, 1

        def render_sv(folder):
            nci, r = c // spec.unit.pi, spec.unit.rows
            p = {"H": h, "W": w, "C": c, "IB": xq.bits, "ISIGNED": int(xq.signed), "K": k, "S": s, "PT": pads[0],
                 "PL": pads[1], "OH": oh, "OW": ow, "R": r, "IN_CHUNKS": nci, "NSEG": 1,
                 "NCO0": oc // spec.unit.po, "KS0": k, "OB": oq.bits, "OSIGNED": int(oq.signed),
                 "LBSTYLE": line_style(spec.unit), **spec.params(folder, name)}
            return "sqz_conv", p
        return [spec.unit], render_sv
