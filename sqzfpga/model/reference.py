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
from sqzfpga.model.geometry import pool_out

CHANNELS_LAST = "qonnx.custom_op.channels_last"


def load(path: str | Path) -> onnx.ModelProto:
    """An ONNX model, with one clear error for missing or corrupt files."""
    path = Path(path)
    if not path.is_file():
        raise UserError(f"ONNX model {path}: no such file; export one with `python -m sqzfpga export`")
    try:
        proto = onnx.load(str(path))
        onnx.checker.check_model(proto)
    except Exception as e:
        raise UserError(f"ONNX model {path}: not a valid ONNX file ({short_reason(e)}); re-export it") from None
    if len(proto.graph.input) != 1 or len(proto.graph.output) != 1:
        raise UserError(f"ONNX model {path}: has {len(proto.graph.input)} inputs and {len(proto.graph.output)} "
                        "outputs; expected one image input and one score output")
    shape = input_shape(proto)
    if len(shape) != 4 or not all(shape[1:]):
        raise UserError(f"ONNX model {path}: input shape {shape}; expected a fixed N x C x H x W image input; "
                        "export with a fixed input size")
    return proto


def input_shape(model: onnx.ModelProto) -> tuple[int, ...]:
    dims = model.graph.input[0].type.tensor_type.shape.dim
    return tuple(d.dim_value for d in dims)


def run(model: onnx.ModelProto, images: np.ndarray, full: bool = False, batch_size: int = 200):
    """Outputs (N x classes, float64) for uint8 NCHW images; full=True returns every tensor (by name)."""
    shape = input_shape(model)
    if tuple(images.shape[1:]) != tuple(shape[1:]):
        raise UserError(f"reference executor: images are {tuple(images.shape[1:])}, the graph's input is "
                        f"{tuple(shape[1:])}; use data matching the model")
    consts = {t.name: numpy_helper.to_array(t).astype(np.float64) for t in model.graph.initializer}
    out_name = model.graph.output[0].name
    if full:
        return execute(model, images.astype(np.float64), consts)
    outs = [execute(model, images[i:i + batch_size].astype(np.float64), consts)[out_name]
            for i in range(0, len(images), batch_size)]
    return np.concatenate(outs)


def execute(model: onnx.ModelProto, x: np.ndarray, consts: dict) -> dict[str, np.ndarray]:
    env = dict(consts)
    env[model.graph.input[0].name] = x
    for node in model.graph.node:
        op = OPS.get((node.domain or "", node.op_type)) or OPS.get(("*", node.op_type))
        if op is None:
            raise UserError(f"reference executor: node {node.name!r} has unsupported op "
                            f"{node.domain + '.' if node.domain else ''}{node.op_type}")
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


def _flatten(x, axis=1, _channels_last=False):
    return x.reshape(int(np.prod(x.shape[:axis])), -1)


def _reshape(x, shape, allowzero=0, _channels_last=False):
    shape = [x.shape[i] if (s == 0 and not allowzero) else int(s) for i, s in enumerate(shape)]
    return x.reshape(shape)


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
    ("", "Reshape"): _reshape,
    ("", "Add"): lambda a, b, _channels_last=False: a + b,
    ("", "Mul"): lambda a, b, _channels_last=False: a * b,
    ("", "Identity"): lambda x, _channels_last=False: x,
    ("", "Pad"): _pad,
}
