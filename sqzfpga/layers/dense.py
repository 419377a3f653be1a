"""Dense (fully connected) layer: a conv whose kernel covers the whole map.

QONNX `Gemm` / `MatMul` (Brevitas QuantLinear; `Quant`ed weights and bias, then `Relu` and an activation
`Quant`) on a flattened H x W x C map (H == W; 1 x 1 after a global pooling or another Dense) ->
`SqzFC`: an H x H kernel, stride 1, no padding, output 1 x 1 x O. It is the conv layer type with its
own parse, so both backends run it on the conv unit (HLS `sqz::conv`, RTL `sqz_conv`), weights on chip
and folded by the planner like any conv's.
"""
from __future__ import annotations

import numpy as np

from sqzfpga.errors import UserError
from sqzfpga.frontend.lower import NCHW, Const, node_where
from sqzfpga.ir.registry import register
from sqzfpga.layers.conv import Conv


@register
class Dense(Conv):
    # not "SqzDense": hls4ml treats every layer class whose name contains "Dense" as its own Dense layer
    op, kind, short, onnx_ops = "SqzFC", "dense", "fc", ("Gemm", "MatMul")
    head = True  # may follow the global average pool

    def parse(self, walk, node, attrs):
        where = node_where(node)
        a = walk.quantized(node, flattened=True)
        h, w, c = a.shape
        if not a.flat and not (a.op is not None and a.op["kind"] == "dense"):
            raise UserError(f"{where}: reads a {h}x{w}x{c} map that is not flattened; flatten it first "
                            "(torch.flatten(x, 1))")
        if h != w:
            raise UserError(f"{where}: reads a flattened {h}x{w} map; a Dense layer needs a square map (H == W): "
                            "pool or crop to a square map before the flatten")
        if node.op_type == "Gemm" and (attrs.get("transA", 0) or attrs.get("alpha", 1.0) != 1.0
                                       or len(node.input) > 2 and node.input[2] and attrs.get("beta", 1.0) != 1.0):
            raise UserError(f"{where}: Gemm with transA={attrs.get('transA', 0)}, alpha={attrs.get('alpha', 1.0)}, "
                            f"beta={attrs.get('beta', 1.0)}; expected transA=0, alpha=1 and beta=1 (as Brevitas "
                            "QuantLinear exports it)")
        wq = walk.const(node, 1)
        wt = wq.ints if node.op_type == "Gemm" and attrs.get("transB", 0) else wq.ints.T  # O x N
        if wt.ndim != 2 or wt.shape[1] != h * w * c:
            raise UserError(f"{where}: weights of shape {list(wq.ints.shape)} for {h * w * c} inputs ({h}x{w}x{c}); "
                            "expected a 2-D weight matrix over the flattened map")
        o = wt.shape[0]
        # the flatten's order: c*H*W + y*W + x of an NCHW tensor, (y*W + x)*C + c of an NHWC one
        wi = wt.reshape(o, c, h, w).transpose(0, 2, 3, 1) if a.layout == NCHW else wt.reshape(o, h, w, c)
        bq = walk.const(node, 2) if node.op_type == "Gemm" else None
        if bq is not None and bq.ints.size != o:
            raise UserError(f"{where}: bias of {bq.ints.size} values for {o} outputs; expected one per output")
        walk.add(node, {"kind": "dense", "in": a, "w": Const(np.ascontiguousarray(wi), wq.q),
                        "b": None if bq is None else Const(bq.ints.reshape(-1), bq.q), "k": h, "s": 1,
                        "pads": (0, 0, 0, 0), "relu": False, "node": node.name}, (1, 1, o))
