"""Max pooling: k x k / s, floor or ceil mode (windows clipped to the image, as ONNX pads -inf).

QONNX `MaxPool` -> `SqzMaxPool`; HLS `sqz::maxpool` (templates/sqz_layers.h), RTL `sqz_maxpool`.
"""
from __future__ import annotations

from dataclasses import dataclass

from sqzfpga.errors import UserError
from sqzfpga.frontend.lower import check_layout, node_where
from sqzfpga.ir.registry import LayerType, register
from sqzfpga.hls.kernel import beat_of, folded_pool, struct, unit_dataflow, window_fields
from sqzfpga.ir.schema import Geometry, Window
from sqzfpga.model.geometry import pool_out
from sqzfpga.rtl.rom import line_style, pool_unit


@dataclass(frozen=True)
class PoolAttrs:
    geo: Geometry
    window: Window


@register
class MaxPool(LayerType):
    op, kind, short, onnx_ops = "SqzMaxPool", "maxpool", "pool", ("MaxPool",)
    hls_function = "maxpool_function.cpp.jinja"

    def parse(self, walk, node, attrs):
        a = walk.quantized(node)
        check_layout(node, a)
        k = tuple(attrs["kernel_shape"])
        s = tuple(attrs.get("strides", (1, 1)))
        p = tuple(attrs.get("pads", (0, 0, 0, 0)))
        if k[0] != k[1] or s[0] != s[1] or tuple(attrs.get("dilations", (1, 1))) != (1, 1):
            raise UserError(f"{node_where(node)}: kernel {list(k)} stride {list(s)}; only square, undilated "
                            "pooling windows are supported")
        ceil = bool(attrs.get("ceil_mode", 0))
        oh = pool_out(a.shape[0], k[0], s[0], p[0], p[2], ceil)
        ow = pool_out(a.shape[1], k[1], s[1], p[1], p[3], ceil)
        walk.add(node, {"kind": "maxpool", "in": a, "k": k[0], "s": s[0], "pads": p, "q": a.q},
                 (oh, ow, a.shape[2]), a.q)

    def attributes(self, op):
        return Window(op["k"], op["s"], tuple(op["pads"])).attributes()

    def load(self, attrs):
        return PoolAttrs(Geometry.load(attrs, "SqzMaxPool layer"), Window.load(attrs, "SqzMaxPool layer"))

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
        _, unit, sw = self._hls(node, beat_of(node.get_input_variable()))
        return struct(geometry["name"], window_fields(unit, sw))

    def hls_dataflow(self, layer, bin_):
        _, unit, sw = self._hls(layer, bin_)
        return unit_dataflow(unit, sw, layer.name)

    # ---- RTL ----
    def rtl(self, layer, name):
        a = self.load(layer.attributes)
        (h, w, c), (oh, ow, _) = a.geo.in_shape, a.geo.out_shape
        k, s, pads = a.window.k, a.window.s, list(a.window.pads)
        xq = a.geo.in_q
        if a.geo.out_q != xq:
            raise UserError(f"layer {name} (SqzMaxPool): the RTL backend needs equal input and output types; "
                            "requantise in the next layer")
        unit = pool_unit(name, a.geo, a.window)

        def render_sv(folder):
            r = unit.rows
            return "sqz_maxpool", {"H": h, "W": w, "C": c, "IB": xq.bits, "ISIGNED": int(xq.signed), "K": k, "S": s,
                                   "PT": pads[0], "PL": pads[1], "OH": oh, "OW": ow, "R": r, "CHUNKS": unit.chunks,
                                   "LBSTYLE": line_style(unit)}
        return [unit], render_sv
