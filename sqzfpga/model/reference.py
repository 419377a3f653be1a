"""Reference executor for exported QONNX graphs: exact, batched, numpy.

This is the golden model that the C and RTL simulations are compared against. It interprets the
graph as stored (standard ONNX ops, qonnx `Quant`, qonnx channels-last `Conv`/`MaxPool`) in float64,
where every value of a power-of-two quantized network is an exactly representable dyadic number, so
no float summation order can change a result. It is cross-checked against qonnx's own node-by-node
executor in the tests and is about a thousand times faster, which makes whole-dataset runs cheap.
"""
from __future__ import annotations

from pathlib import Path

import numpy as np
import onnx
from onnx import numpy_helper

from sqzfpga.errors import UserError, short_reason
from sqzfpga.model import preprocess
from sqzfpga.model.geometry import pool_out

CHANNELS_LAST = "qonnx.custom_op.channels_last"
QUANT_OPS = ["Quant", "BipolarQuant", "QuantizeLinear", "DequantizeLinear"]  # not constant-folded (qonnx-cleanup)


# Ops a model may hold that sqzfpga does not compute, and what the user changes instead (one error line).
ADVICE = {
    "BatchNormalization": "fold it into the conv before quantization with sqzfpga.model.fold_batchnorm(model) "
                          "(see README), then quantize and re-export",
    "Dropout": "qonnx removes only a Dropout of ratio 0 (or none); export the model in eval mode (model.eval()), "
               "which leaves no Dropout",
    "ReduceMean": "export with brevitas.export.export_qonnx(..., dynamo=False), which writes global average "
                  "pooling as GlobalAveragePool",
}


def load(path: str | Path) -> onnx.ModelProto:
    """An ONNX model, normalised (see `normalise`), with one clear error for missing, corrupt or
    ill-shaped files."""
    path = Path(path)
    if not path.is_file():
        raise UserError(f"ONNX model {path}: no such file; export one with `python -m sqzfpga export`")
    try:
        proto = onnx.load(str(path))
        onnx.checker.check_model(proto)
    except Exception as e:
        raise UserError(f"ONNX model {path}: not a valid ONNX file ({short_reason(e)}); re-export it") from None
    inputs = image_inputs(proto)
    if len(inputs) != 1 or len(proto.graph.output) != 1:
        hint = ("; a Brevitas QuantTensor output exports its scale, zero point and bit width too: return a plain "
                "tensor (return_quant_tensor=False on the last layer)" if len(proto.graph.output) > 1 else "")
        raise UserError(f"ONNX model {path}: has {len(inputs)} inputs and {len(proto.graph.output)} "
                        f"outputs; expected one image input and one score output{hint}")
    shape = tuple(d.dim_value for d in inputs[0].type.tensor_type.shape.dim)
    if len(shape) != 4 or not all(shape[1:]):
        raise UserError(f"ONNX model {path}: input shape {shape}; expected a fixed N x C x H x W image input; "
                        "export with a fixed input size")
    return normalise(proto, f"ONNX model {path}")


def image_inputs(model: onnx.ModelProto) -> list:
    """The graph inputs that are not initializers (Brevitas's export lists its weights as inputs too)."""
    consts = {t.name for t in model.graph.initializer}
    return [i for i in model.graph.input if i.name not in consts]


def normalise(model: onnx.ModelProto, where: str) -> onnx.ModelProto:
    """The graph as qonnx's own transformations leave it: those of its cleanup (qonnx.util.cleanup) that
    change the computation's form, not its names (weights that are also graph inputs made plain
    initializers, constant subgraphs folded), then, where Identity or Dropout nodes are left,
    RemoveIdentityOps (Identity, inference Dropout, zero Pad/Add/Sub, Mul/Div by one). Node and tensor
    names stay the export's, so errors name the user's modules. qonnx's InferShapes takes 2-30 s on a
    channels-last graph, so it runs only where a step needs it: before folding Shape nodes, and inside
    RemoveIdentityOps. Every step is exact, except qonnx's dropping of a Mul/Div by a constant within
    1e-5 (relative) of one, which is refused here instead."""
    from qonnx.core.modelwrapper import ModelWrapper
    from qonnx.transformation.fold_constants import FoldConstants
    from qonnx.transformation.general import GiveUniqueParameterTensors, RemoveStaticGraphInputs, RemoveUnusedTensors
    from qonnx.transformation.infer_shapes import InferShapes
    from qonnx.transformation.quant_constant_folding import FoldTransposeIntoQuantInit
    from qonnx.transformation.remove import RemoveIdentityOps

    ops = {n.op_type for n in model.graph.node}
    steps = [InferShapes()] if "Shape" in ops else []
    steps += [RemoveStaticGraphInputs(), GiveUniqueParameterTensors(), FoldConstants(exclude_op_types=QUANT_OPS),
              FoldTransposeIntoQuantInit(), RemoveUnusedTensors()]
    wrapper = ModelWrapper(model)
    try:
        for step in steps:
            wrapper = wrapper.transform(step, make_deepcopy=False, cleanup=False)  # load()'s own proto
    except Exception as e:
        raise UserError(f"{where}: qonnx's cleanup failed ({short_reason(e)}); check that the file is a QONNX "
                        "export (Brevitas export_qonnx) and re-export it") from None
    if not ops & {"Identity", "Dropout"}:
        return wrapper.model
    for node in wrapper.graph.node:
        c = wrapper.get_initializer(node.input[1]) if node.op_type in ("Mul", "Div") else None
        if c is not None and np.isclose(c, 1.0, atol=0).all() and not (c == 1.0).all():
            raise UserError(f"{where}: node {node.name!r} ({node.op_type}) scales by {np.ravel(c)[0]!r}, almost but "
                            "not exactly 1; remove it from the model or make it exactly 1")
    return wrapper.transform(RemoveIdentityOps(atol=0)).model


def input_shape(model: onnx.ModelProto) -> tuple[int, ...]:
    dims = model.graph.input[0].type.tensor_type.shape.dim
    return tuple(d.dim_value for d in dims)


def run(model: onnx.ModelProto, images: np.ndarray, full: bool = False, batch_size: int = 200):
    """Outputs (N x classes, float64) for uint8 NCHW images, preprocessed as the model's metadata states
    (model.preprocess; raw bytes by default); full=True returns every tensor (by name)."""
    shape = input_shape(model)
    if tuple(images.shape[1:]) != tuple(shape[1:]):
        raise UserError(f"reference executor: images are {tuple(images.shape[1:])}, the graph's input is "
                        f"{tuple(shape[1:])}; use data matching the model")
    consts = {t.name: numpy_helper.to_array(t).astype(np.float64) for t in model.graph.initializer}
    out_name = model.graph.output[0].name
    pre = preprocess.of(model)
    if full:
        return execute(model, pre.apply(images), consts)
    outs = [execute(model, pre.apply(images[i:i + batch_size]), consts)[out_name]
            for i in range(0, len(images), batch_size)]
    return np.concatenate(outs)


def execute(model: onnx.ModelProto, x: np.ndarray, consts: dict) -> dict[str, np.ndarray]:
    env = dict(consts)
    env[model.graph.input[0].name] = x
    for node in model.graph.node:
        op = OPS.get((node.domain or "", node.op_type)) or OPS.get(("*", node.op_type))
        if op is None:
            advice = ADVICE.get(node.op_type, "the reference executor computes only the ops of quantized "
                                "CNNs (Quant, Conv, Relu, pooling, Concat, Add, ...)")
            raise UserError(f"reference executor: node {node.name!r} has unsupported op "
                            f"{node.domain + '.' if node.domain else ''}{node.op_type}; {advice}")
        attrs = {a.name: onnx.helper.get_attribute_value(a) for a in node.attribute}
        args = [env[i] if i else None for i in node.input]
        result = op(*args, **attrs, _channels_last=node.domain == CHANNELS_LAST)
        for name, value in zip(node.output, result if isinstance(result, tuple) else (result,)):
            env[name] = value
    return env


# ---- operators (float64, exact for dyadic values) ------------------------------------------------
def quant(x, scale, zeropt, bitwidth, signed=1, narrow=0, rounding_mode=b"ROUND", _channels_last=False):
    bits = float(bitwidth)
    if signed:
        lo, hi = -(2.0 ** (bits - 1)) + narrow, 2.0 ** (bits - 1) - 1
    else:
        lo, hi = 0.0, 2.0 ** bits - 1 - narrow
    mode = rounding_mode.decode() if isinstance(rounding_mode, bytes) else rounding_mode
    rounder = {"ROUND": np.round, "CEIL": np.ceil, "FLOOR": np.floor, "ROUND_TO_ZERO": np.trunc}.get(mode.upper())
    if rounder is None:
        raise UserError(f"reference executor: Quant rounding mode {mode!r} is not supported")
    q = np.clip(rounder(x / scale + zeropt), lo, hi)
    return (q - zeropt) * scale


def conv(x, w, b=None, dilations=(1, 1), group=1, kernel_shape=None, pads=(0, 0, 0, 0), strides=(1, 1),
         auto_pad=b"NOTSET", _channels_last=False):
    if group != 1 or tuple(dilations) != (1, 1) or auto_pad not in (b"NOTSET", "NOTSET"):
        raise UserError("reference executor: Conv with groups, dilation or auto_pad is not supported")
    xh = x if _channels_last else x.transpose(0, 2, 3, 1)
    if _channels_last:  # qonnx stores channels-last conv weights as O, kh, kw, I
        w = w.transpose(0, 3, 1, 2)
    kh, kw = w.shape[2:]
    xh = np.pad(xh, ((0, 0), (pads[0], pads[2]), (pads[1], pads[3]), (0, 0)))
    win = np.lib.stride_tricks.sliding_window_view(xh, (kh, kw), axis=(1, 2))  # N,Ho,Wo,C,kh,kw
    win = win[:, ::strides[0], ::strides[1]]
    y = np.tensordot(win, w, axes=([3, 4, 5], [1, 2, 3]))  # N,Ho,Wo,O
    if b is not None:
        y = y + b
    return y if _channels_last else y.transpose(0, 3, 1, 2)


def maxpool(x, kernel_shape, strides=(1, 1), pads=(0, 0, 0, 0), ceil_mode=0, dilations=(1, 1),
            auto_pad=b"NOTSET", storage_order=0, _channels_last=False):
    if tuple(dilations) != (1, 1) or auto_pad not in (b"NOTSET", "NOTSET"):
        raise UserError("reference executor: MaxPool with dilation or auto_pad is not supported")
    xh = x if _channels_last else x.transpose(0, 2, 3, 1)
    grow, windows = _pool_windows(xh.shape, kernel_shape, strides, pads, ceil_mode)
    y = windows(np.pad(xh, grow, constant_values=-np.inf)).max(axis=(4, 5))
    return y if _channels_last else y.transpose(0, 3, 1, 2)


def _pool_windows(shape, kernel_shape, strides, pads, ceil_mode):
    """The padding that makes every output window whole ((before, after) per NHWC axis: the pads, and
    in ceil mode the rest of the last window), and windows(t) -> t's (N, OH, OW, C, KH, KW) windows."""
    _, h, w, _ = shape
    oh = pool_out(h, kernel_shape[0], strides[0], pads[0], pads[2], ceil_mode)
    ow = pool_out(w, kernel_shape[1], strides[1], pads[1], pads[3], ceil_mode)
    need_h = (oh - 1) * strides[0] + kernel_shape[0]
    need_w = (ow - 1) * strides[1] + kernel_shape[1]
    grow = ((0, 0), (pads[0], max(0, need_h - h - pads[0])), (pads[1], max(0, need_w - w - pads[1])), (0, 0))

    def windows(t):
        win = np.lib.stride_tricks.sliding_window_view(t, tuple(kernel_shape), axis=(1, 2))
        return win[:, ::strides[0], ::strides[1]][:, :oh, :ow]
    return grow, windows


def avgpool(x, kernel_shape, strides=(1, 1), pads=(0, 0, 0, 0), ceil_mode=0, count_include_pad=0,
            dilations=(1, 1), auto_pad=b"NOTSET", _channels_last=False):
    """Window sums divided by the window's element count (padding counted only with count_include_pad;
    ceil mode's partial windows never count what lies beyond the padding), as PyTorch and ONNX do. The
    one division rounds once; the Quant that follows rounds to a grid far coarser than that error,
    and an exact tie (a dyadic quotient) is computed exactly, so the result stays exact."""
    if tuple(dilations) != (1, 1) or auto_pad not in (b"NOTSET", "NOTSET"):
        raise UserError("reference executor: AveragePool with dilation or auto_pad is not supported")
    xh = x if _channels_last else x.transpose(0, 2, 3, 1)
    _, h, w, _ = xh.shape
    grow, windows = _pool_windows(xh.shape, kernel_shape, strides, pads, ceil_mode)
    counted = np.pad(np.ones((1, h, w, 1)), grow)  # 1 where an element counts in the divisor
    if count_include_pad:
        counted[:, :pads[0] + h + pads[2], :pads[1] + w + pads[3]] = 1.0
    y = windows(np.pad(xh, grow)).sum(axis=(4, 5)) / windows(counted).sum(axis=(4, 5))
    return y if _channels_last else y.transpose(0, 3, 1, 2)


def gemm(a, b, c=None, alpha=1.0, beta=1.0, transA=0, transB=0, _channels_last=False):
    """alpha * a @ b' + beta * c over a batch of rows (a: N x K, one row per image)."""
    if transA:
        raise UserError("reference executor: Gemm with transA=1 is not supported; expected the batch in rows "
                        "(as Brevitas QuantLinear exports it)")
    y = alpha * (a @ (b.T if transB else b))
    return y if c is None else y + beta * c


def _flatten(x, axis=1, _channels_last=False):
    return x.reshape(int(np.prod(x.shape[:axis])), -1)


def _reshape(x, shape, allowzero=0, _channels_last=False):
    """The graph's Reshape applied to each image of the batch (an export bakes batch size 1 into the
    shape, e.g. view(x.size(0), -1) -> [1, -1]); a reshape that moves data across images is refused."""
    one = x.shape[1:]
    shape = [(1, *one)[i] if (s == 0 and not allowzero) else int(s) for i, s in enumerate(shape)]
    try:
        per_image = np.empty((1, *one)).reshape(shape).shape
    except ValueError:
        per_image = ()
    if per_image[:1] != (1,):
        raise UserError(f"reference executor: Reshape of a {list((1, *one))} tensor to {shape}; only reshapes "
                        "that keep the batch axis first are supported (flatten with torch.flatten(x, 1))")
    return x.reshape(len(x), *per_image[1:])


def _pad(x, pads, value=None, axes=None, mode=b"constant", _channels_last=False):
    if axes is not None or mode not in (b"constant", "constant"):
        raise UserError("reference executor: only constant Pad over all axes is supported")
    n = x.ndim
    p = [int(v) for v in pads]
    return np.pad(x, list(zip(p[:n], p[n:])), constant_values=0.0 if value is None else float(value))


OPS = {
    ("qonnx.custom_op.general", "Quant"): quant,
    ("*", "Conv"): conv,
    ("*", "MaxPool"): maxpool,
    ("*", "AveragePool"): avgpool,
    ("", "Relu"): lambda x, _channels_last=False: np.maximum(x, 0.0),
    ("", "Transpose"): lambda x, perm=None, _channels_last=False: x.transpose(perm),
    ("", "Concat"): lambda *xs, axis, _channels_last=False: np.concatenate(xs, axis=axis),
    ("", "GlobalAveragePool"): lambda x, _channels_last=False: x.mean(axis=(2, 3), keepdims=True),
    ("", "Flatten"): _flatten,
    ("", "Gemm"): gemm,
    ("", "MatMul"): lambda a, b, _channels_last=False: a @ b,
    ("", "Reshape"): _reshape,
    ("", "Add"): lambda a, b, _channels_last=False: a + b,
    ("", "Mul"): lambda a, b, _channels_last=False: a * b,
    ("", "Pad"): _pad,
}
