"""The input table pass: image bytes -> the input quantizer's integers, exactly, in hardware.

The DMA carries bytes; the model's input Quant node receives (byte * scale - mean_c) / std_c
(sqzfpga.model.preprocess). Over 256 possible bytes that mapping is a per-channel table, computed
here with the reference executor's own `quant` on the reference's own preprocessing, so hardware
and reference agree for every byte and any preprocessing. Where the table is the identity (byte b ->
integer b of an unsigned 8-bit, scale-1 quantizer: raw pixels, as sqzfpga's own models take them)
no table layer is emitted and the graph is what it always was. A quantizer that does not cover the
preprocessed range (bytes would saturate), or that collapses it to a few levels, is refused here.
"""
from __future__ import annotations

import dataclasses

import numpy as np
from onnx import numpy_helper

from sqzfpga.errors import UserError
from sqzfpga.ir.types import QType
from sqzfpga.model import reference
from sqzfpga.model.preprocess import Preprocess

BYTE = QType(8, 0, False)  # the DMA's input stream: one unsigned byte per channel
MIN_LEVELS = 4  # fewer distinct quantized values over 256 bytes: the quantizer throws the image away


def preprocessed(pre: Preprocess, channels: int) -> np.ndarray:
    """(channels, 256): what the graph input receives for each byte of each channel."""
    images = np.arange(256, dtype=np.uint8)[:, None, None, None].repeat(channels, axis=1)  # 256 one-pixel images
    return pre.apply(images)[:, :, 0, 0].T


def table(pre: Preprocess, q: QType, channels: int) -> np.ndarray:
    """(channels, 256) integers of type `q`: table[c][b] = Quant(preprocessed byte b of channel c)."""
    y = reference.quant(preprocessed(pre, channels), 2.0 ** -q.frac, 0.0, q.bits, signed=int(q.signed))
    return np.rint(y * 2.0 ** q.frac).astype(np.int64)


def check(pre: Preprocess, q: QType, channels: int, node: str) -> None:
    """One error line when the input quantizer clips a byte by more than one step, or keeps fewer than
    MIN_LEVELS values of the image (a quantizer of fewer levels: all of them)."""
    lsb = 2.0 ** -q.frac
    lo, hi = q.lo * lsb, q.hi * lsb
    x = preprocessed(pre, channels)
    levels = min(len(np.unique(t)) for t in table(pre, q, channels))
    clipped = max(float(np.max(x - hi)), float(np.max(lo - x)))
    if clipped <= lsb and levels >= min(MIN_LEVELS, 2 ** q.bits):
        return
    what = (f"input Quant node {node!r}: its range [{lo:g}, {hi:g}] ({q}) "
            + (f"does not cover the preprocessed input [{x.min():.6g}, {x.max():.6g}]" if clipped > lsb else
               f"keeps only {levels} levels of the preprocessed input [{x.min():.6g}, {x.max():.6g}]")
            + f" of {pre.describe()}")
    if clipped <= lsb:  # too few levels: the quantizer's steps are coarse for this preprocessing
        fix = ("state the preprocessing the model was trained with (none for raw pixels), or re-export with an "
               "input quantizer whose step fits it (e.g. scale 2^-7 for inputs in [-1, 1])")
    elif not pre.stated and hi < 2.0:  # e.g. an unsigned 8-bit quantizer calibrated on [0, 1]: scale 2^-7, [0, 2)
        fix = ("the model takes inputs in about [0, 1]: state its preprocessing, e.g. --input-scale 1/255 (and --mean/"
               "--std if it was trained with them)")
    else:
        fix = ("state the preprocessing the model was trained with (--input-scale, --mean, --std), or re-export "
               "with an input quantizer that covers its range (raw pixels: unsigned 8-bit, scale 1)")
    raise UserError(f"{what}; {fix}")


def check_model(model, pre: Preprocess) -> None:
    """check() on a QONNX model's input Quant node (the one reading the graph input), without lowering
    the rest (eval runs models the hardware does not take); a quantizer that is not power-of-two
    fixed point is left to the lowering's errors."""
    image = model.graph.input[0]
    tensor, node = image.name, None
    while node is None or node.op_type == "Transpose":  # the input Quant, after any layout change
        node = next((n for n in model.graph.node if n.input and n.input[0] == tensor), None)
        if node is None or node.op_type not in ("Transpose", "Quant"):
            return
        tensor = node.output[0]
    consts = {t.name: numpy_helper.to_array(t) for t in model.graph.initializer}
    if not all(i in consts for i in node.input[1:4]):
        return
    scale, bits = np.ravel(consts[node.input[1]]), np.ravel(consts[node.input[3]])
    m, e = np.frexp(scale[0]) if scale.size == 1 else (0, 0)
    if m != 0.5 or bits.size != 1:
        return
    signed = next((a.i for a in node.attribute if a.name == "signed"), 1)
    check(pre, QType(int(bits[0]), int(1 - e), bool(signed)), image.type.tensor_type.shape.dim[1].dim_value, node.name)


def add_table(lowered, pre: Preprocess, node: str, image: str):
    """Put a table layer before the first layer when bytes do not map to the input type unchanged;
    `lowered.input` becomes the byte stream (frontend.lower.Lowered) of the graph input `image`; `node`
    is the input Quant node."""
    quantized = lowered.input
    h, w, c = quantized.shape
    check(pre, quantized.q, c, node)
    ints = table(pre, quantized.q, c)
    if quantized.q == BYTE and (ints == np.arange(256)).all():
        return lowered
    raw = dataclasses.replace(quantized, name=image, q=BYTE, op=None, src=None)
    op = {"kind": "table", "in": raw, "table": ints, "q": quantized.q, "out": quantized, "node": node}
    quantized.op = op
    lowered.ops.insert(0, op)
    lowered.input = raw
    return lowered
