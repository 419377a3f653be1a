"""QONNX export: Brevitas (TorchScript exporter) -> qonnx cleanup -> channels-last.

The exported file carries the model config as ONNX metadata, so later stages (HLS, RTL, reports)
know the input size, classes and bit widths without the checkpoint.
"""
from __future__ import annotations

import json
import os
import tempfile
import warnings
from pathlib import Path

import onnx
import torch

from sqzfpga.errors import UserError
from sqzfpga.model.squeezenet import SqueezeNet

CONFIG_KEY = "sqzfpga.config"


def export(qmodel: SqueezeNet, out: str | Path, channels_last: bool = True) -> Path:
    """Write the QONNX graph of a quantized model to `out` (atomically); returns the path."""
    from brevitas.export import export_qonnx
    from qonnx.core.modelwrapper import ModelWrapper
    from qonnx.transformation.channels_last import ConvertToChannelsLastAndClean
    from qonnx.util.cleanup import cleanup_model

    if not qmodel.quantized:
        raise UserError("export: the model is a float checkpoint; expected a quantized one; make it with "
                        "`python -m sqzfpga train --init FLOAT.pt --epochs 0 --quantize`")
    out = Path(out)
    out.parent.mkdir(parents=True, exist_ok=True)
    cfg = qmodel.cfg
    qmodel.eval()
    fd, tmp = tempfile.mkstemp(prefix=f".{out.name}.", suffix=".onnx", dir=out.parent)
    os.close(fd)
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            export_qonnx(qmodel, torch.zeros(1, cfg.in_channels, cfg.input_size, cfg.input_size), tmp,
                         dynamo=False)
        model = cleanup_model(ModelWrapper(tmp))
        if channels_last:
            model = model.transform(ConvertToChannelsLastAndClean())
        model.model.graph.name = "sqzfpga_squeezenet"
        onnx.helper.set_model_props(model.model, {CONFIG_KEY: json.dumps(cfg.to_dict())})
        model.save(tmp)
        os.replace(tmp, out)
    finally:
        Path(tmp).unlink(missing_ok=True)
    return out


def stored_config(model: onnx.ModelProto) -> dict | None:
    for prop in model.metadata_props:
        if prop.key == CONFIG_KEY:
            return json.loads(prop.value)
    return None
