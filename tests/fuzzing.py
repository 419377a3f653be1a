"""Random small SqueezeNet-family models for property tests (hypothesis), and the end-to-end check
each one must pass. Shared by tests/test_fuzz.py (a bounded, derandomized run in CI) and
benchmarks/fuzz.py (hundreds of examples).

An example is a plain dict of ModelConfig fields plus an init seed, so a failing one can be pasted
into `@example(...)` as a regression test. Every field the hardware cares about varies: stem (v1.0
7x7/2, v1.1 3x3/2, small 3x3/1), 1..4 input channels, odd and even input sizes, 1..4 Fire modules
with random widths, max pools 2x2 or 3x3 in ceil or floor mode after random Fires, bypass none /
simple / complex, 2..8-bit weights and activations chosen per layer, 8..16-bit outputs, 2..10
classes, and the planner's DSP budget (so the RTL folds differently).

The check: Brevitas == QONNX reference executor == C simulation, output and every layer, exactly;
with `rtl=True` also the generated SystemVerilog (Verilator) == C simulation.
"""
from __future__ import annotations

import contextlib
import io
import time
from pathlib import Path

import numpy as np
from hypothesis import assume
from hypothesis import strategies as st

from sqzfpga.errors import UserError
from sqzfpga.model.config import ModelConfig

INPUT_SIZES = {"small": (5, 20), "v1.1": (9, 28), "v1.0": (15, 34)}


@st.composite
def configs(draw) -> dict:
    """One random family member: ModelConfig keyword arguments plus 'seed' and 'dsp' (RTL budget).
    Choices are listed richest first, because hypothesis's first (simplest) example takes them."""
    stem = draw(st.sampled_from(["v1.1", "small", "v1.0"]))
    num_fires = draw(st.integers(1, 4))
    c = draw(st.integers(1, 4))
    kw = dict(stem=stem, in_channels=c, input_size=draw(st.integers(*INPUT_SIZES[stem])),
              num_classes=draw(st.integers(2, 10)), num_fires=num_fires,
              pool_after=sorted(draw(st.sets(st.integers(2, num_fires + 1), max_size=2))),
              ceil_mode=not draw(st.booleans()), pool_kernel=draw(st.sampled_from([3, 2])),
              base_e=draw(st.integers(2, 16)), incr_e=draw(st.integers(0, 16)), freq=draw(st.integers(1, 3)),
              pct3x3=draw(st.sampled_from([0.5, 0.25, 0.75])), sr=draw(st.sampled_from([0.25, 0.125, 0.5, 1.0])),
              width_mult=1.0, bypass=draw(st.sampled_from(["complex", "simple", "none"])), dropout=0.0,
              mean=[draw(st.sampled_from([0.2, 0.0, 0.5])) for _ in range(c)],
              std=[draw(st.sampled_from([0.3, 0.25, 1.0])) for _ in range(c)],
              output_bits=draw(st.integers(8, 16)))
    try:
        wnames, anames = ModelConfig(**kw).layer_names()
    except UserError:  # e.g. the input shrinks to nothing through the stem and pools
        assume(False)
    bits = st.integers(2, 8)
    kw["layer_weight_bits"] = {n: draw(bits) for n in wnames}
    kw["layer_act_bits"] = {n: draw(bits) for n in anames}
    return dict(kw, seed=draw(st.integers(0, 2**16)), dsp=draw(st.sampled_from([16, 48, 200])))


def images(c: int, s: int, n: int, seed: int) -> np.ndarray:
    """n c x s x s images: random pixels plus smooth gradients (large uniform areas: saturation, ties,
    zeros)."""
    rng = np.random.default_rng(seed)
    rnd = rng.integers(0, 256, (n - n // 4, c, s, s))
    yy, xx = np.mgrid[0:s, 0:s] / max(1, s - 1)
    grads = [np.broadcast_to((255 * (a * yy + (1 - a) * xx)), (c, s, s)) for a in rng.random(n // 4)]
    return np.concatenate([rnd, np.array(grads).reshape(-1, c, s, s)]).astype(np.uint8)


def check(example: dict, folder: Path, rtl: bool = False, n_images: int = 12) -> dict:
    """Build the example's quantized model and check every stage against the next, bit for bit.
    Raises AssertionError on any difference; returns figures for the caller's summary."""
    import torch

    from sqzfpga.model import export
    from sqzfpga.model.evaluate import predict
    from sqzfpga.model.quant import calibrate, quantize_float
    from sqzfpga.model.squeezenet import SqueezeNet

    kw = {k: v for k, v in example.items() if k not in ("seed", "dsp")}
    t0 = time.time()
    torch.manual_seed(example["seed"])
    cfg = ModelConfig(**kw)
    qmodel = quantize_float(SqueezeNet(cfg))
    calibrate(qmodel, [torch.from_numpy(images(cfg.in_channels, cfg.input_size, 32, example["seed"] + 1)).float()])
    x = images(cfg.in_channels, cfg.input_size, n_images, example["seed"] + 2)
    folder.mkdir(parents=True, exist_ok=True)
    path = export.export(qmodel, folder / "model.onnx")
    return check_export(path, x, predict(qmodel, x), folder, example["dsp"], rtl, t0)


def check_export(path: Path, x: np.ndarray, want: np.ndarray, folder: Path, dsp: int, rtl: bool = False,
                 t0: float | None = None) -> dict:
    """The check from the exported QONNX file on: Brevitas's outputs `want` for the image bytes `x` ==
    QONNX reference (under the file's stated preprocessing) == C simulation (every layer) [== RTL]."""
    from sqzfpga.hls.convert import convert_folded
    from sqzfpga.hls.csim import simulate
    from sqzfpga.layers import lower
    from sqzfpga.model import reference

    t0 = time.time() if t0 is None else t0
    onnx_model = reference.load(path)
    got = reference.run(onnx_model, x)
    np.testing.assert_array_equal(got, want, err_msg="QONNX reference != Brevitas")

    canon, golden, low = lower(onnx_model)
    hm = convert_folded(canon, low.input.q, folder / "hls", "xc7z020clg400-1", fuzz_budget(dsp))
    res, y = simulate(hm, onnx_model, golden, x, layer_images=4, log=lambda m: None)
    bad = {k: v for k, v in res["layer_mismatches"].items() if v}
    assert not bad, f"C simulation != reference in layers {bad}"
    np.testing.assert_array_equal(y, want.reshape(len(x), -1), err_msg="C simulation != reference")
    out = {"s": 0.0, "distinct_outputs": int(np.unique(y).size), "layers": len(golden), "rtl": None}
    if rtl:
        out["rtl"] = check_rtl(hm, folder, x, y, dsp)
    out["s"] = round(time.time() - t0, 1)
    return out


def fuzz_budget(dsp: int):
    """The budget both backends are folded for (the HLS kernels take the RTL planner's plan)."""
    from sqzfpga.rtl.plan import Budget

    return Budget(dsp=dsp, lut=40000, ff=10**6, bram36=10**4)


def check_rtl(hm, folder: Path, x: np.ndarray, y: np.ndarray, dsp: int, frames: int = 3) -> dict:
    """Generated RTL, folded for a `dsp`-slice budget, simulated on the first `frames` images of `x`:
    equal to the C simulation. Cycles per frame in steady state: where the pipeline holds more frames
    than that, the run is repeated with as many as it takes to fill it (up to all of `x`)."""
    from sqzfpga.driver.layout import to_raw
    from sqzfpga.rtl.generate import generate
    from sqzfpga.sim import rtlsim

    manifest = generate(hm, folder / "rtl", fuzz_budget(dsp))
    with contextlib.redirect_stdout(io.StringIO()):
        rtlsim.compile_design(folder / "rtl", folder / "rtlsim")
    while True:
        n = min(frames, len(x))
        with contextlib.redirect_stdout(io.StringIO()):
            res = rtlsim.run_network(folder / "rtl", folder / "rtlsim", x[:n])
        got = np.asarray(res["outputs"]).reshape(n, -1)
        np.testing.assert_array_equal(got, to_raw(y[:n], manifest["output"]["frac"]).reshape(n, -1),
                                      err_msg="RTL simulation != C simulation")
        figs = rtlsim.cycle_figures(res, n)
        if figs["steady"] or n == len(x):
            break
        frames = figs["frames_to_steady"]
    return {"cycles_per_frame": figs["cycles_per_frame"], "planned": manifest["plan"]["cycles_per_frame"],
            "frames": n, "steady": figs["steady"]}
