"""Our exact reference executor agrees with qonnx's own node-by-node executor."""
import warnings

import numpy as np
import pytest
import torch

from sqzfpga.model import export, reference
from sqzfpga.model.config import preset
from sqzfpga.model.quant import calibrate, quantize_float
from sqzfpga.model.squeezenet import SqueezeNet


@pytest.mark.slow
def test_reference_matches_qonnx_executor(tmp_path, fmnist_dir):
    import onnxruntime
    from qonnx.core.modelwrapper import ModelWrapper
    from qonnx.core.onnx_exec import execute_onnx

    from sqzfpga.model import data

    onnxruntime.set_default_logger_severity(3)
    torch.manual_seed(1)
    cfg = preset("default", width_mult=0.125, bypass="complex")
    qmodel = quantize_float(SqueezeNet(cfg))
    images = data.load(fmnist_dir, "test").images[:64]
    calibrate(qmodel, [torch.from_numpy(images).float()])
    path = export.export(qmodel, tmp_path / "m.onnx")
    proto = reference.load(path)
    ours = reference.run(proto, images[:3], full=True)
    wrapper = ModelWrapper(str(path))
    for i in range(3):
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            ctx = execute_onnx(wrapper, {proto.graph.input[0].name: images[i:i + 1].astype(np.float32)},
                               return_full_exec_context=True)
        # every tensor, layer by layer (quantized weights have no batch dimension)
        for node in proto.graph.node:
            for name in node.output:
                mine = ours[name] if ours[name].shape == ctx[name].shape else ours[name][i:i + 1]
                np.testing.assert_array_equal(ctx[name], mine.astype(np.float32), err_msg=name)
