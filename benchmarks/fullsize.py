"""Full-size SqueezeNet v1.1 (224x224, 1000 classes, 8-bit): convert, fit check, C-simulate one image.

    .venv/bin/python benchmarks/fullsize.py [--json]

The network is randomly initialised and calibrated on random images (accuracy is not the point:
size, conversion and exactness are). Prints one line per figure; --json adds one JSON line last.
"""
from __future__ import annotations

import argparse
import json
import tempfile
import time
from pathlib import Path

import numpy as np


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--json", action="store_true")
    a = ap.parse_args()

    import torch

    from sqzfpga.errors import UserError
    from sqzfpga.hls import fit
    from sqzfpga.hls.convert import convert_folded
    from sqzfpga.hls.csim import simulate
    from sqzfpga.layers import lower
    from sqzfpga.model import export, reference
    from sqzfpga.model.config import preset
    from sqzfpga.model.quant import calibrate, quantize_float
    from sqzfpga.model.squeezenet import SqueezeNet
    from sqzfpga.parts import get_part
    from sqzfpga.rtl.plan import budget

    torch.manual_seed(0)
    cfg = preset(name="v1.1", weight_bits=8, act_bits=8)
    q = quantize_float(SqueezeNet(cfg))
    rng = np.random.default_rng(0)
    calib = rng.integers(0, 256, (8, 3, 224, 224), dtype=np.uint8)
    calibrate(q, [torch.from_numpy(calib[i:i + 4]).float() for i in (0, 4)])
    out = {"params": sum(p.numel() for n, p in q.named_parameters() if n.endswith("weight") or n.endswith("bias"))}
    with tempfile.TemporaryDirectory() as tmp:
        t0 = time.perf_counter()
        path = export.export(q, Path(tmp) / "m.onnx")
        out["export_s"] = time.perf_counter() - t0
        model = reference.load(path)
        t0 = time.perf_counter()
        canon, golden, low = lower(model)
        hm = convert_folded(canon, low.input.q, Path(tmp) / "hls", "xczu9eg-ffvb1156-2-e", budget(get_part("xczu9eg")))
        out["convert_s"] = time.perf_counter() - t0
        rows = fit.estimate(hm)
        for part in ("xc7z020", "xczu9eg"):
            s = fit.check(rows, get_part(part))
            try:
                fit.refuse(rows, s, get_part(part))
                out[f"fit_{part}"] = f"fits: {s['bram18']}/{s['bram18_available']} BRAM18, {s['dsp']} DSP"
            except UserError as e:
                out[f"fit_{part}"] = str(e)
            out[f"fits_{part}"] = s["fits"]
        out["memory_mbit"] = round(s["memory_bits"] / 1e6, 3)
        image = rng.integers(0, 256, (1, 3, 224, 224), dtype=np.uint8)
        res, _ = simulate(hm, model, golden, image, layer_images=1, log=lambda m: None)
        out.update(csim_exact=res["exact"], csim_compile_s=res["compile_s"], csim_s_per_image=res["s_per_image"],
                   layers_exact=not any(res["layer_mismatches"].values()))
    for k, v in out.items():
        print(f"{k}: {v}")
    if a.json:
        print(json.dumps(out, default=str))


if __name__ == "__main__":
    main()
