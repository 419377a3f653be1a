"""The input table: image bytes -> the input quantizer's integers, per channel (256 entries each).

Made by the lowering's input pass (frontend/preprocess.py), never from a QONNX node of its own, and
only where the mapping is not the identity (raw pixels into an unsigned 8-bit, scale-1 quantizer).
`SqzTable`; HLS `sqz::table` (templates/sqz_table.h, the table in its config), RTL `sqz_table`.
"""
from __future__ import annotations

from dataclasses import dataclass

import numpy as np
from onnx import numpy_helper

from sqzfpga.errors import UserError
from sqzfpga.frontend.preprocess import BYTE
from sqzfpga.hls.cycles import Dataflow, Process
from sqzfpga.ir.registry import LayerType, register, require
from sqzfpga.ir.schema import Geometry
from sqzfpga.jinja import render
from sqzfpga.rtl.rom import write_mem
from sqzfpga.rtl.unit import Unit


@dataclass(frozen=True)
class TableAttrs:
    geo: Geometry
    table: np.ndarray  # (C, 256) integers of the output type


@register
class Table(LayerType):
    op, kind, short = "SqzTable", "table", "table"
    hls_function = "table_function.cpp.jinja"
    headers = ("sqz_layers.h", "sqz_table.h")

    def attributes(self, op):
        return [("table", numpy_helper.from_array(op["table"].astype(np.int32)))]

    def load(self, attrs):
        where = "SqzTable layer"
        geo = Geometry.load(attrs, where)
        require(attrs, ("table",), where)
        t = np.asarray(attrs["table"], dtype=np.int64)
        q = geo.out_q
        if (geo.in_q != BYTE or geo.in_shape != geo.out_shape or t.shape != (geo.in_shape[2], 256)
                or t.min() < q.lo or t.max() > q.hi):
            raise UserError(f"{where}: a table of shape {list(t.shape)} from {geo.in_q} to {q}; expected bytes in "
                            "and 256 integers of the output type per channel: rebuild from the model file")
        return TableAttrs(geo, t)

    # ---- HLS ----
    def hls_weights(self, layer):
        self.load(layer.attributes)

    def hls_config(self, node, geometry):
        a = self.load(node.attributes)
        h, w, c = a.geo.in_shape
        q = a.geo.out_q
        return render("table_config.h.jinja", name=geometry["name"], pixels=h * w, n_chan=c, bits=q.bits,
                      signed=q.signed, rows=[[str(int(v)) for v in row] for row in a.table])

    def hls_beat(self, layer):
        return self.load(layer.attributes).geo.out_shape[2]

    def hls_dataflow(self, layer, bin_):
        h, w, _ = self.load(layer.attributes).geo.in_shape
        return Dataflow([Process(f"{layer.name}.table", h * w)], [])

    # ---- RTL ----
    def rtl(self, layer, name):
        a = self.load(layer.attributes)
        h, w, c = a.geo.in_shape
        q = a.geo.out_q

        def render_sv(folder):
            tfile = f"{name}_t.mem"
            write_mem(folder / tfile, [int(v) & ((1 << q.bits) - 1) for v in a.table.reshape(-1)], q.bits)
            return "sqz_table", {"C": c, "OB": q.bits, "TFILE": tfile}
        return [Unit(name, "table", h * w, h * w, cin=c, ibits=BYTE.bits, obits=q.bits)], render_sv
