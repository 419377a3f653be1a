"""Global average pooling with exact rounding: out = round_half_even(sum * 2^shift / pixels), saturated.

QONNX `GlobalAveragePool` + activation `Quant` -> `SqzGlobalAvgPool` (only as the last layer, or before
a Dense head); HLS `sqz::global_avg` (templates/sqz_layers.h), RTL `sqz_gap`; both from `ir.arith.gap_widths`.
"""
from __future__ import annotations

from sqzfpga.frontend.lower import check_layout
from sqzfpga.ir.arith import gap_widths
from sqzfpga.ir.registry import LayerType, register
from sqzfpga.hls.cycles import Dataflow, Process
from sqzfpga.jinja import render
from sqzfpga.ir.schema import Geometry
from sqzfpga.rtl.unit import Unit


@register
class GlobalAvgPool(LayerType):
    op, kind, short, onnx_ops = "SqzGlobalAvgPool", "gap", "gap", ("GlobalAveragePool",)
    hls_function = "gap_function.cpp.jinja"
    last_only = True

    def parse(self, walk, node, attrs):
        a = walk.quantized(node)
        check_layout(node, a)
        walk.add(node, {"kind": "gap", "in": a, "relu": False}, (1, 1, a.shape[2]))

    def attributes(self, op):
        return []

    def load(self, attrs):
        return Geometry.load(attrs, "SqzGlobalAvgPool layer")

    # ---- HLS ----
    def hls_weights(self, layer):
        self.load(layer.attributes)

    def hls_config(self, node, geometry):
        geo = self.load(node.attributes)
        iq, oq = geo.in_q, geo.out_q
        shift, sum_width, num_width = gap_widths(iq, oq, geometry["in_height"] * geometry["in_width"])
        return render("gap_config.h.jinja", **geometry, in_signed="true" if iq.signed else "false", shift=shift,
                      sum_width=sum_width, num_width=num_width, out_min=oq.lo, out_max=oq.hi)

    def hls_beat(self, layer):
        return self.load(layer.attributes).out_shape[2]

    def hls_dataflow(self, layer, bin_):
        h, w, c = self.load(layer.attributes).in_shape
        return Dataflow([Process(f"{layer.name}.gap", h * w * (c // bin_) + c)], [])

    # ---- RTL ----
    def rtl(self, layer, name):
        geo = self.load(layer.attributes)
        h, w, c = geo.in_shape
        iq, oq = geo.in_q, geo.out_q
        shift, sumw, numw = gap_widths(iq, oq, h * w)

        def render_sv(folder):
            return "sqz_gap", {"N": h * w, "C": c, "IB": iq.bits, "ISIGNED": int(iq.signed), "SUMW": sumw,
                               "NUMW": numw, "SHIFT": shift, "OB": oq.bits, "OMIN": oq.lo, "OMAX": oq.hi}
        return [Unit(name, "gap", h * w, 1, extra=c * (numw + 2))], render_sv
