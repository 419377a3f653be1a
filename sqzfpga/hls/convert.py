"""Canonical sqzfpga graph -> hls4ml ModelGraph (ONNX frontend, io_stream)."""
from __future__ import annotations

import contextlib
import io

import onnx

from sqzfpga.hls import layers
from sqzfpga.hls.types import hw_type

# hls4ml fills any type a layer leaves open from this default; ours set every type, so a wide
# default here could only hide a bug: make it conspicuous instead.
DEFAULT_PRECISION = "ap_fixed<1,1>"


def hls_config(canon: onnx.ModelProto, in_q, reuse: dict | None = None) -> dict:
    cfg = {"Model": {"Precision": DEFAULT_PRECISION, "ReuseFactor": 1, "Strategy": "Resource"},
           "LayerName": {"input_1": {"Precision": {"result": hw_type(in_q).__str__()}}}}
    for n in canon.graph.node:
        cfg["LayerName"][n.name] = {"ReuseFactor": (reuse or {}).get(n.name, 1), "Trace": True}
    return cfg


def convert(canon: onnx.ModelProto, in_q, out_dir: str, part: str, backend: str = "Vitis",
            reuse: dict | None = None, clock_period: float = 10.0):
    """A hls4ml ModelGraph of the canonical graph; hls4ml's console chatter is kept out of our output."""
    import hls4ml

    layers.register()
    with contextlib.redirect_stdout(io.StringIO()):
        return hls4ml.converters.convert_from_onnx_model(
            canon, output_dir=str(out_dir), io_type="io_stream", backend=backend, part=part,
            clock_period=clock_period, hls_config=hls_config(canon, in_q, reuse), project_name="sqznet")


def convert_folded(canon: onnx.ModelProto, in_q, out_dir: str, part: str, backend: str = "Vitis",
                   clock_period: float = 10.0):
    """convert() with per-layer reuse factors planned and FIFO depths computed from the dataflow."""
    from sqzfpga.hls import fit

    hm = convert(canon, in_q, out_dir, part, backend, clock_period=clock_period)
    hm = convert(canon, in_q, out_dir, part, backend, reuse=fit.plan_reuse(hm.get_layers()),
                 clock_period=clock_period)
    for layer in hm.get_layers():
        depth = fit.fifo_depths([layer]).get(layer.name)
        if depth:
            layer.get_output_variable().pragma = ("stream", depth)
    return hm
