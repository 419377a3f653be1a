"""QONNX export: Brevitas (TorchScript exporter) -> qonnx cleanup -> channels-last.

The exported file carries the model config as ONNX metadata, so later stages (HLS, RTL, reports)
know the input size, classes and bit widths without the checkpoint.
"""
from __future__ import annotations

import json
import warnings
from pathlib import Path

import onnx
import torch

from sqzfpga.atomic import atomic_path
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
    cfg = qmodel.cfg
    qmodel.eval()
    with atomic_path(out) as tmp:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            export_qonnx(qmodel, torch.zeros(1, cfg.in_channels, cfg.input_size, cfg.input_size), str(tmp),
                         dynamo=False)
        model = cleanup_model(ModelWrapper(str(tmp)))
        if channels_last:
            model = model.transform(ConvertToChannelsLastAndClean())
        model.model.graph.name = "sqzfpga_squeezenet"
        onnx.helper.set_model_props(model.model, {CONFIG_KEY: json.dumps(cfg.to_dict())})
        model.save(str(tmp))
    return out
