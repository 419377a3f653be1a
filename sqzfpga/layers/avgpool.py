"""Average pooling k x k / s with exact rounding: out = round_half_even(window sum * 2^shift / k^2), saturated.

QONNX `AveragePool` (square, unpadded, floor mode) + activation `Quant` -> `SqzAvgPool`; HLS
`sqz::avgpool` (templates/sqz_avgpool.h), RTL `sqz_avgpool` (templates/rtl/sqz_avgpool.sv); both
take their widths from `ir.arith.gap_widths`, as the global average pool does.
"""
from __future__ import annotations

from dataclasses import dataclass

from sqzfpga.errors import UserError
from sqzfpga.frontend.lower import check_layout, node_where
from sqzfpga.ir.arith import gap_widths
from sqzfpga.ir.registry import LayerType, register
from sqzfpga.ir.schema import Geometry, Window
from sqzfpga.hls.kernel import Field, beat_of, bool_text, folded_pool, struct, unit_dataflow, window_fields
from sqzfpga.model.geometry import pool_out
from sqzfpga.rtl.rom import line_style, pool_unit


@dataclass(frozen=True)
class AvgPoolAttrs:
    geo: Geometry
    window: Window

    def widths(self) -> tuple[int, int, int]:
        """(shift, sum width, numerator width) of the exact division by k^2."""
        return gap_widths(self.geo.in_q, self.geo.out_q, self.window.k ** 2)


@register
class AvgPool(LayerType):
    op, kind, short, onnx_ops = "SqzAvgPool", "avgpool", "avgpool", ("AveragePool",)
    hls_function = "avgpool_function.cpp.jinja"
    headers = ("sqz_layers.h", "sqz_avgpool.h")

    def parse(self, walk, node, attrs):
        a = walk.quantized(node)
        check_layout(node, a)
        k = tuple(attrs["kernel_shape"])
        s = tuple(attrs.get("strides", (1, 1)))
        p = tuple(attrs.get("pads", (0, 0, 0, 0)))
        ceil = int(attrs.get("ceil_mode", 0))
        if (k[0] != k[1] or s[0] != s[1] or any(p) or ceil or tuple(attrs.get("dilations", (1, 1))) != (1, 1)
                or attrs.get("auto_pad", b"NOTSET") not in (b"NOTSET", "NOTSET")):
            raise UserError(f"{node_where(node)}: kernel {list(k)} stride {list(s)} pads {list(p)} ceil_mode {ceil}; "
                            "only square, unpadded, floor-mode average pooling is supported (torch.nn.AvgPool2d(k, s) "
                            "with padding=0, ceil_mode=False)")
        oh = pool_out(a.shape[0], k[0], s[0])
        ow = pool_out(a.shape[1], k[1], s[1])
        walk.add(node, {"kind": "avgpool", "in": a, "k": k[0], "s": s[0], "pads": p, "relu": False},
                 (oh, ow, a.shape[2]))

    def attributes(self, op):
        if op["relu"]:
            raise UserError(f"AveragePool producing tensor {op['out'].name!r}: followed by a Relu, which the pooling "
                            "layer does not apply; pool a ReLU's output instead (the average of non-negative "
                            "values needs none)")
        return Window(op["k"], op["s"], tuple(op["pads"])).attributes()

    def load(self, attrs):
        return AvgPoolAttrs(Geometry.load(attrs, "SqzAvgPool layer"), Window.load(attrs, "SqzAvgPool layer"))

    # ---- HLS ----
    def _hls(self, layer, bin_=None):
        """Typed attributes, the folded unit and (given the input beat) its window's sweep."""
        a = self.load(layer.attributes)
        return (a, *folded_pool(layer, pool_unit("u", a.geo, a.window), a.geo, a.window, bin_))

    def hls_weights(self, layer):
        self.load(layer.attributes)

    def hls_beat(self, layer):
        return self._hls(layer)[1].pi

    def hls_config(self, node, geometry):
        a, unit, sw = self._hls(node, beat_of(node.get_input_variable()))
        shift, sum_width, num_width = a.widths()
        iq, oq = a.geo.in_q, a.geo.out_q
        return struct(geometry["name"], window_fields(unit, sw) + [
            Field("bool", "in_signed", bool_text(iq.signed)), Field("int", "shift", shift),
            Field("unsigned", "sum_width", sum_width), Field("unsigned", "num_width", num_width),
            Field("long long", "out_min", f"{oq.lo}LL"), Field("long long", "out_max", f"{oq.hi}LL")])

    def hls_dataflow(self, layer, bin_):
        _, unit, sw = self._hls(layer, bin_)
        return unit_dataflow(unit, sw, layer.name)

    # ---- RTL ----
    def rtl(self, layer, name):
        a = self.load(layer.attributes)
        (h, w, c), (oh, ow, _) = a.geo.in_shape, a.geo.out_shape
        k, s = a.window.k, a.window.s
        iq, oq = a.geo.in_q, a.geo.out_q
        shift, sumw, numw = a.widths()
        # priced as a max pool (same schedule and line buffer); its dividers are not in the cost model yet
        unit = pool_unit(name, a.geo, a.window)

        def render_sv(folder):
            return "sqz_avgpool", {"H": h, "W": w, "C": c, "IB": iq.bits, "ISIGNED": int(iq.signed), "K": k, "S": s,
                                   "OH": oh, "OW": ow, "R": unit.rows, "CHUNKS": unit.chunks,
                                   "LBSTYLE": line_style(unit), "SUMW": sumw, "NUMW": numw, "SHIFT": shift,
                                   "OB": oq.bits, "OSIGNED": int(oq.signed), "OMIN": oq.lo, "OMAX": oq.hi}
        return [unit], render_sv
