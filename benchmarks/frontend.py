"""Front-end timings on the default model: export, reference executor vs qonnx's executor, torch eval.

    .venv/bin/python benchmarks/frontend.py [--images 200] [--json]

Prints one line per figure; with --json, one JSON summary line last.
"""
from __future__ import annotations

import argparse
import json
import tempfile
import time
import warnings
from pathlib import Path

import numpy as np


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--images", type=int, default=200, help="sample images to run (max 1000)")
    ap.add_argument("--qonnx-images", type=int, default=5, help="images for qonnx's slow executor")
    ap.add_argument("--json", action="store_true")
    a = ap.parse_args()

    import onnxruntime
    from qonnx.core.modelwrapper import ModelWrapper
    from qonnx.core.onnx_exec import execute_onnx

    from sqzfpga.model import checkpoint, export, reference
    from sqzfpga.model.evaluate import predict

    onnxruntime.set_default_logger_severity(3)
    model, _ = checkpoint.load_model(checkpoint.DEFAULT_CHECKPOINT)
    images = np.load(checkpoint.DEFAULT_SAMPLES)["images"][:a.images]
    out = {}
    with tempfile.TemporaryDirectory() as tmp:
        t0 = time.perf_counter()
        path = export.export(model, Path(tmp) / "m.onnx")
        out["export_s"] = time.perf_counter() - t0
        proto = reference.load(path)
        t0 = time.perf_counter()
        ref = reference.run(proto, images)
        out["reference_ms_per_image"] = 1e3 * (time.perf_counter() - t0) / len(images)
        t0 = time.perf_counter()
        torch_out = predict(model, images)
        out["brevitas_ms_per_image"] = 1e3 * (time.perf_counter() - t0) / len(images)
        wrapper = ModelWrapper(str(path))
        name = proto.graph.input[0].name
        t0 = time.perf_counter()
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            q = [execute_onnx(wrapper, {name: im[None].astype(np.float32)})[proto.graph.output[0].name][0]
                 for im in images[:a.qonnx_images]]
        out["qonnx_exec_ms_per_image"] = 1e3 * (time.perf_counter() - t0) / a.qonnx_images
    out["images"] = len(images)
    out["exact_reference_vs_brevitas"] = bool(np.array_equal(ref, torch_out))
    out["exact_reference_vs_qonnx"] = bool(np.array_equal(ref[:a.qonnx_images], np.stack(q)))
    for k, v in out.items():
        print(f"{k:32s} {v:.2f}" if isinstance(v, float) else f"{k:32s} {v}")
    if a.json:
        print(json.dumps({k: round(v, 3) if isinstance(v, float) else v for k, v in out.items()}))


if __name__ == "__main__":
    main()
