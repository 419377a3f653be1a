"""C simulation: the generated HLS compiled with g++ against the ap_types headers, run on real images
and compared with the QONNX reference executor, end to end and layer by layer."""
from __future__ import annotations

import contextlib
import io
import time

import numpy as np
import onnx

from sqzfpga.driver.layout import raster
from sqzfpga.model import reference


def to_stream(images: np.ndarray) -> np.ndarray:
    """uint8 N x C x H x W images -> the accelerator's input: channels-last pixels, one row per image."""
    return raster(images).astype(np.float64)


def golden_layers(model: onnx.ModelProto, golden: dict, images: np.ndarray) -> dict[str, np.ndarray]:
    """What every canonical layer must output (channels-last), from the reference run of the QONNX graph."""
    env = reference.run(model, images, full=True)
    out = {}
    for name, g in golden.items():
        v = env[g["tensor"]]
        if v.ndim == 2:
            v = v.reshape(len(images), 1, 1, -1)
        elif g["nchw"]:
            v = v.transpose(0, 2, 3, 1)
        out[name] = v
    return out


def _quiet(fn, *args):
    with contextlib.redirect_stdout(io.StringIO()):
        return fn(*args)


def simulate(hm, model: onnx.ModelProto, golden: dict, images: np.ndarray, labels=None, expected=None,
             layer_images: int = 8, log=print) -> tuple[dict, np.ndarray]:
    """Compile, trace `layer_images` images through every layer, then run all images; compare exactly
    with `expected` (the reference outputs; computed here when not given)."""
    last = list(golden)[-1]
    out_shape = golden[last]["shape"]
    t0 = time.time()
    nl = min(layer_images, len(images))
    log(f"[csim] compiling with g++ and tracing {nl} images layer by layer ...")
    _, trace = _quiet(hm.trace, to_stream(images[:nl]))
    compile_s = time.time() - t0
    want = golden_layers(model, golden, images[:nl])
    layers = {}
    for name in golden:
        got = np.asarray(trace[name]).reshape(want[name].shape)
        layers[name] = int(np.sum(got != want[name]))
    t1 = time.time()
    log(f"[csim] running {len(images)} images ...")
    y = np.asarray(_quiet(hm.predict, to_stream(images))).reshape(len(images), -1)
    run_s = time.time() - t1
    ref = (reference.run(model, images) if expected is None else expected).reshape(len(images), -1)
    mismatch = int(np.sum(y != ref))
    res = {"images": len(images), "exact": mismatch == 0 and not any(layers.values()),
           "mismatching_values": mismatch, "layer_images": nl, "layer_mismatches": layers,
           "argmax_agreement": float(np.mean(y.argmax(1) == ref.argmax(1))) if len(images) else None,
           "accuracy": float(np.mean(y.argmax(1) == labels)) if labels is not None else None,
           "compile_s": round(compile_s, 1), "s_per_image": round(run_s / max(1, len(images)), 4),
           "output_shape": out_shape}
    return res, y
