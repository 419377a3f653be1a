"""Canonical sqzfpga graph -> hls4ml ModelGraph (ONNX frontend, io_stream), folded by the planner."""
from __future__ import annotations

import contextlib
import io

import onnx

from sqzfpga.hls import layers
from sqzfpga.hls.kernel import fold_of
from sqzfpga.hls.types import hw_type
from sqzfpga.layers import REGISTRY
from sqzfpga.layers.units import units
from sqzfpga.rtl.plan import Budget, plan

# hls4ml fills any type a layer leaves open from this default; ours set every type, so a wide
# default here could only hide a bug: make it conspicuous instead.
DEFAULT_PRECISION = "ap_fixed<1,1>"
FIFO_DEPTH = 2  # beats between layers: every layer absorbs rate differences in its own line buffer


def hls_config(canon: onnx.ModelProto, in_q, folds: dict | None = None) -> dict:
    cfg = {"Model": {"Precision": DEFAULT_PRECISION, "ReuseFactor": 1, "Strategy": "Resource"},
           "LayerName": {"input_1": {"Precision": {"result": hw_type(in_q).__str__()}}}}
    for n in canon.graph.node:
        cfg["LayerName"][n.name] = {"Fold": (folds or {}).get(n.name, ""), "Trace": True}
    return cfg


def convert(canon: onnx.ModelProto, in_q, out_dir: str, part: str, backend: str = "Vitis",
            folds: dict | None = None, clock_period: float = 10.0):
    """A hls4ml ModelGraph of the canonical graph; hls4ml's console chatter is kept out of our output."""
    import hls4ml

    layers.register()
    with contextlib.redirect_stdout(io.StringIO()):
        hm = hls4ml.converters.convert_from_onnx_model(
            canon, output_dir=str(out_dir), io_type="io_stream", backend=backend, part=part,
            clock_period=clock_period, hls_config=hls_config(canon, in_q, folds), project_name="sqznet")
    for layer in hm.get_layers():  # each layer's output in beats of its last unit's chunk
        out = layer.get_output_variable()
        if layer.class_name in REGISTRY:
            t = out.type
            t.n_pack, t.unpack = t.n_elem // REGISTRY[layer.class_name].hls_beat(layer), True
        out.pragma = ("stream", FIFO_DEPTH)
    layers.reformat(hm)
    return hm


def convert_folded(canon: onnx.ModelProto, in_q, out_dir: str, part: str, bud: Budget, backend: str = "Vitis",
                   clock_period: float = 10.0, max_cycles: int | None = None):
    """convert() for device `part` with every unit folded as the RTL planner folds it for `bud` (the
    RTL backend's plan)."""
    hm = convert(canon, in_q, out_dir, part, backend, clock_period=clock_period)
    all_units, by_layer = units(hm)
    plan(all_units, bud, max_cycles)
    folds = {name: fold_of(us, stage) for name, (stage, us) in by_layer.items()}
    return convert(canon, in_q, out_dir, part, backend, folds=folds, clock_period=clock_period)
