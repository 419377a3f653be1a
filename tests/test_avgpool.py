"""The average pool k x k / s layer, exact in every backend: the SystemVerilog module (cocotb +
Verilator, random stalls) and the HLS kernel (g++ against hls4ml's ap_types) against the numpy
scoreboard, which is written from the definition (Fraction-exact, ties to even); inputs hold ties, so a
half-up rounding would be caught."""
from __future__ import annotations

import json
import math
from fractions import Fraction

import numpy as np
import pytest

from sqzfpga.errors import UserError
from sqzfpga.ir.types import QType
from sqzfpga.layers import REGISTRY
from sqzfpga.rtl.generate import _literal
from sqzfpga.sim import scoreboard as sb
from sqzfpga.sim.rtlsim import run_module

STALL = 0.3


def half_up(f: Fraction) -> int:
    """A wrong rounding (ties upward) that the inputs must tell apart from ties to even."""
    return math.floor(f + Fraction(1, 2))


# (H, C, K, S, CHUNKS, input type, output type): both signs of SHIFT and of the data, chunked and
# unchunked windows, overlapping (S < K) and tiling (S = K) windows, saturating outputs
RTL_CASES = {
    "2x2s2-unsigned-shift0": (8, 4, 2, 2, 1, QType(8, 2, False), QType(8, 2, False)),
    "3x3s2-signed-shift-2-saturating": (9, 6, 3, 2, 3, QType(8, 3, True), QType(4, 1, True)),
    "3x3s1-unsigned-shift+4": (7, 4, 3, 1, 2, QType(4, 0, False), QType(8, 4, False)),
    "2x2s1-signed-shift-1-chunk1": (6, 4, 2, 1, 4, QType(6, 2, True), QType(6, 1, True)),
}


class Layer:
    """A canonical layer as the layer type reads it: hls4ml's attributes dict, and for the HLS side the
    planner's folding and the input stream's beat (channels)."""

    def __init__(self, fold: str = "", in_beat: int = 1, **attrs):
        self.attributes, self.fold, self.in_beat = attrs, fold, in_beat

    def get_attr(self, name, default=None):
        return self.fold if name == "fold" else self.attributes.get(name, default)

    def get_input_variable(self):
        from types import SimpleNamespace

        return SimpleNamespace(type=SimpleNamespace(n_elem=self.in_beat, n_pack=1, unpack=False))


def rtl_module(folder, h, c, k, s, nch, iq, oq) -> dict:
    """The SV parameters the registered layer type gives a pool folded into CHUNKS chunks."""
    o = (h - k) // s + 1
    layer = Layer(in_shape=[h, h, c], out_shape=[o, o, c], in_q=iq.triple(), out_q=oq.triple(), k=k, s=s,
                  pads=[0, 0, 0, 0])
    (unit,), render = REGISTRY["SqzAvgPool"].rtl(layer, "dut")
    unit.pi = c // nch
    module, params = render(folder)
    assert module == "sqz_avgpool" and params["CHUNKS"] == nch
    return {key: _literal(v) for key, v in params.items()}


def frames_for(h, c, iq, n=3, seed=5):
    rng = np.random.default_rng(seed)
    return [rng.integers(iq.lo, iq.hi + 1, (h, h, c)) for _ in range(n)]


BENCH_REJECTS = "2x2s2-unsigned-shift0"


def expected(frames, k, s, iq, oq):
    """The scoreboard's outputs, and those of a half-up rounding where they differ (None where they
    cannot: a tie needs an even divisor k^2 * 2^-shift, and then the inputs must hold one that matters)."""
    shift = oq.frac - iq.frac
    outs = [sb.avgpool(x, k, s, shift, oq.bits, oq.signed) for x in frames]
    wrong = [sb.avgpool(x, k, s, shift, oq.bits, oq.signed, rnd=half_up) for x in frames]
    flips = sum(int(np.sum(a != b)) for a, b in zip(outs, wrong))
    if k % 2 == 0 or shift < 0:
        assert flips > 0, "no tie where rounding half up and half to even differ: the inputs would not catch it"
    return outs, wrong if flips else None


MODULE_CASES = [c for c in RTL_CASES if c != "3x3s1-unsigned-shift+4"]  # CI time; the HLS kernel test keeps it


@pytest.mark.parametrize("case", MODULE_CASES)
def test_rtl_module_exact(case, tmp_path):
    """About 10 s per case (Verilator build and simulation)."""
    h, c, k, s, nch, iq, oq = RTL_CASES[case]
    params = rtl_module(tmp_path, h, c, k, s, nch, iq, oq)
    frames = frames_for(h, c, iq)
    outs, wrong = expected(frames, k, s, iq, oq)
    if case.endswith("saturating"):
        assert any(np.any(o == oq.hi) for o in outs) and any(np.any(o == oq.lo) for o in outs)
    beats_in = [sb.pack(px, iq.bits) for f in frames for px in f.reshape(-1, c)]
    beats_out = [sb.pack(px, oq.bits) for o in outs for px in o.reshape(-1, c)]
    ok, log = run_module("sqz_avgpool", params, tmp_path, tmp_path / "sim", beats_in, beats_out, STALL)
    assert ok, log[-2000:]
    if wrong is not None and case == BENCH_REJECTS:  # the bench rejects the wrongly rounded beats (same build)
        beats_wrong = [sb.pack(px, oq.bits) for o in wrong for px in o.reshape(-1, c)]
        ok, log = run_module("sqz_avgpool", params, tmp_path, tmp_path / "sim", beats_in, beats_wrong, STALL)
        assert not ok and "differ from the numpy model" in log, log[-2000:]


# ---- HLS kernel: sqz::avgpool compiled with g++ against hls4ml's ap_types --------------------------
HLS_CASES = {**RTL_CASES, "3x3s3-signed-to-unsigned": (9, 3, 3, 3, 1, QType(8, 4, True), QType(8, 4, False))}


def hls_kernel_outputs(folder, h, c, k, s, nch, iq, oq, frames) -> list[np.ndarray]:
    """The registered layer type's config struct (folded into `nch` chunks), compiled into
    tests/avgpool_harness.cpp, run on frames."""
    import os
    import subprocess
    from pathlib import Path

    import hls4ml

    from sqzfpga.hls.types import cpp_type
    from sqzfpga.jinja import TEMPLATES

    o = (h - k) // s + 1
    node = Layer(fold=json.dumps({"": [c // nch, 1, 1, "", 0]}), in_beat=c, in_shape=[h, h, c], out_shape=[o, o, c],
                 in_q=iq.triple(), out_q=oq.triple(), k=k, s=s, pads=[0, 0, 0, 0])
    cfg = REGISTRY["SqzAvgPool"].hls_config(node, {"name": "config", "in_height": h, "in_width": h, "n_chan": c,
                                                  "out_height": o, "out_width": o, "kernel": k, "stride": s})
    (folder / "config.h").write_text(
        f'#include "ap_fixed.h"\ntypedef {cpp_type(iq)} in_t;\ntypedef {cpp_type(oq)} out_t;\n'
        f"static const bool OUT_SIGNED = {'true' if oq.signed else 'false'};\nstatic const unsigned C = {c};\n"
        f"static const unsigned FRAME_IN = {h * h}, FRAME_OUT = {o * o};\n{cfg}\n")
    vivado = Path(os.path.dirname(hls4ml.__file__)) / "templates" / "vivado"
    harness = Path(__file__).resolve().parent / "avgpool_harness.cpp"
    r = subprocess.run(["g++", "-std=c++14", "-O1", "-w", f"-I{folder}", f"-I{TEMPLATES}", f"-I{vivado / 'ap_types'}",
                        f"-I{vivado / 'nnet_utils'}", str(harness), "-o", str(folder / "avgpool")],
                       capture_output=True, text=True, timeout=300)
    assert r.returncode == 0, r.stderr[-3000:]
    stdin = "\n".join(str(int(v)) for x in frames for v in x.reshape(-1)) + "\n"
    r = subprocess.run([str(folder / "avgpool")], input=stdin, capture_output=True, text=True, timeout=60)
    assert r.returncode == 0, r.stdout[-500:]
    got = np.array([int(v) for v in r.stdout.split()], dtype=np.int64)
    return list(got.reshape(len(frames), o, o, c))


@pytest.mark.parametrize("case", list(HLS_CASES))
def test_hls_kernel_exact(case, tmp_path):
    """About 8 s per case (g++)."""
    h, c, k, s, nch, iq, oq = HLS_CASES[case]
    frames = frames_for(h, c, iq, n=4)
    got = hls_kernel_outputs(tmp_path, h, c, k, s, nch, iq, oq, frames)
    want, _ = expected(frames, k, s, iq, oq)
    for g, w in zip(got, want):
        np.testing.assert_array_equal(g, w)


# ---- QONNX reference executor: ONNX AveragePool ------------------------------------------------
@pytest.mark.parametrize("k,s,pads,ceil,include", [(2, 2, (0, 0, 0, 0), 0, 1), (3, 2, (1, 1, 1, 1), 1, 0),
                                                   (3, 2, (1, 1, 1, 1), 1, 1), (3, 1, (1, 0, 1, 0), 0, 0)])
def test_reference_averagepool_equals_torch(k, s, pads, ceil, include):
    """Padding, ceil mode and count_include_pad as PyTorch computes them (float64); < 0.1 s."""
    import torch.nn.functional as F
    import torch

    from sqzfpga.model import reference

    x = np.random.default_rng(0).integers(-8, 8, (2, 3, 9, 8)).astype(np.float64) / 4
    want = F.avg_pool2d(torch.from_numpy(x), k, s, padding=(pads[0], pads[1]), ceil_mode=bool(ceil),
                        count_include_pad=bool(include)).numpy()
    got = reference.avgpool(x, [k, k], [s, s], list(pads), ceil, include)
    np.testing.assert_allclose(got, want, rtol=1e-15)
    got_cl = reference.avgpool(x.transpose(0, 2, 3, 1), [k, k], [s, s], list(pads), ceil, include, _channels_last=True)
    np.testing.assert_allclose(got_cl.transpose(0, 3, 1, 2), want, rtol=1e-15)


# ---- the test model: Brevitas == QONNX reference executor --------------------------------------
MODEL_CASES = {  # the pool quantizer's bits set its scale: SHIFT < 0 (coarser), 0, > 0 (finer)
    "2x2s2-unsigned-shift-": dict(k=2, s=2, pool_bits=4),
    "3x3s2-signed-shift+": dict(k=3, s=2, signed=True, pool_bits=8),
    "2x2s1-signed-shift0": dict(k=2, s=1, signed=True),
}


@pytest.mark.parametrize("case", list(MODEL_CASES))
def test_model_reference_equals_brevitas(case, fmnist_dir, tmp_path):
    """About 3 s per case. Real Fashion-MNIST images; the export is Transpose -> AveragePool (NCHW,
    standard domain, count_include_pad 1, no padding) -> Transpose -> Quant: no Trunc, no Mul."""
    import onnx

    import avgpool_model
    from sqzfpga.model import data, export, reference
    from sqzfpga.model.evaluate import predict
    from sqzfpga.model.quant import is_power_of_two, quant_scales

    images = data.load(fmnist_dir, "test").images[:232]
    kw = MODEL_CASES[case]
    net = avgpool_model.build(images[:200], **kw)
    scales = quant_scales(net)
    assert all(is_power_of_two(v) for v in scales.values()), scales
    shift = round(np.log2(scales["act1"] / scales["pool_quant"]))
    assert {"-": shift < 0, "0": shift == 0, "+": shift > 0}[case[-1]], scales
    model = reference.load(export.export(net, tmp_path / "m.onnx"))
    ops = [n.op_type for n in model.graph.node]
    i = ops.index("AveragePool")
    assert ops[i - 1:i + 3] == ["Transpose", "AveragePool", "Transpose", "Quant"] and "Trunc" not in ops, ops
    pool = model.graph.node[i]
    attrs = {a.name: onnx.helper.get_attribute_value(a) for a in pool.attribute}
    assert attrs == {"kernel_shape": [kw["k"]] * 2, "strides": [kw["s"]] * 2, "pads": [0] * 4, "ceil_mode": 0,
                     "count_include_pad": 1}, attrs

    x = images[200:232]
    want = predict(net, x)
    full = reference.run(model, x, full=True)
    np.testing.assert_array_equal(full[model.graph.output[0].name], want)
    assert np.unique(want).size > 8, "outputs are degenerate; the comparison would prove little"
    # the averages the pool's Quant rounds hold ties (k^2 * 2^-shift even), so Brevitas's rounding of
    # ties (to even) is what the reference was compared on
    t = full[pool.output[0]] / scales["pool_quant"]
    if kw["k"] % 2 == 0 or shift < 0:
        assert np.sum(t - np.floor(t) == 0.5) > 10


# ---- end to end: the registered layer in a network, through both backends ----------------------
# one case (CI time): unsigned data and SHIFT < 0 are covered by the module, kernel and model tests
E2E_CASES = {"3x3s2-signed-shift+": MODEL_CASES["3x3s2-signed-shift+"]}
RTL_E2E = "3x3s2-signed-shift+"  # also through the RTL (signed conv -> signed pool -> signed-input conv)


@pytest.mark.parametrize("case", list(E2E_CASES))
def test_network_csim_equals_reference_and_rtl_equals_csim(case, fmnist_dir, tmp_path):
    """The test model lowered (AveragePool + Quant -> SqzAvgPool), its HLS C simulation equal to the
    reference executor in every layer, and the generated RTL (Verilator) equal to the C simulation at
    the planner's cycles per frame (rounding ties in the RTL: the module tests). About 60 s."""
    import avgpool_model
    from sqzfpga.hls.convert import convert_folded
    from sqzfpga.hls.csim import simulate
    from sqzfpga.layers import lower
    from sqzfpga.model import data, export, reference
    from sqzfpga.model.evaluate import predict
    from test_exact import RTL_BUDGET, check_rtl

    images = data.load(fmnist_dir, "test").images[:232]
    net = avgpool_model.build(images[:200], **E2E_CASES[case])
    model = reference.load(export.export(net, tmp_path / "m.onnx"))
    canon, golden, low = lower(model)
    kinds = [n.op_type for n in canon.graph.node]
    assert kinds == ["SqzConv", "SqzAvgPool", "SqzConv", "SqzGlobalAvgPool"], kinds
    x = images[200:216]
    expected = predict(net, x)
    hm = convert_folded(canon, low.input.q, tmp_path / "hls", "xc7z020clg400-1", RTL_BUDGET)
    res, y = simulate(hm, model, golden, x, layer_images=8, log=lambda m: None)
    assert res["layer_mismatches"] == {name: 0 for name in golden}, res["layer_mismatches"]
    np.testing.assert_array_equal(y, expected.reshape(len(x), -1))
    if case == RTL_E2E:
        check_rtl(hm, tmp_path / "rtl", x[:4], y[:4])


def test_unsupported_average_pool_is_one_error_line(fmnist_dir, tmp_path):
    """`plan` of a model whose AveragePool pads: one error line naming the node and the fix; < 10 s."""
    import avgpool_model
    import torch.nn as nn
    from conftest import assert_clean_error, run_cli
    from sqzfpga.model import data, export

    net = avgpool_model.build(data.load(fmnist_dir, "test").images[:50], k=3, s=2)
    net.pool = nn.AvgPool2d(3, 2, padding=1)
    export.export(net, tmp_path / "padded.onnx")
    line = assert_clean_error(run_cli("plan", "--model", tmp_path / "padded.onnx"), "AveragePool", "pads [1, 1, 1, 1]",
                              "only square, unpadded, floor-mode average pooling")
    assert "padding=0" in line


def test_yosys_synthesises_the_module(tmp_path):
    """Yosys synth_xilinx of sqz_avgpool as `synth` runs it (parameters set by chparam): the line
    buffer in block RAM, the dividers in LUTs and flip-flops, no DSP slice. About 30 s."""
    from sqzfpga.parts import get_part
    from sqzfpga.rtl.generate import library_sources
    from sqzfpga.rtl.synth import count, run_yosys

    # negative SHIFT and OMIN: chparam gets them as signed hex literals, all in one call (rtl/synth.py)
    h, c, k, s, nch, iq, oq = RTL_CASES["3x3s2-signed-shift-2-saturating"]
    params = rtl_module(tmp_path, h, c, k, s, nch, iq, oq)
    params["LBSTYLE"] = '"block"'
    for src in library_sources():
        (tmp_path / src.name).write_text(src.read_text())
    res = count(run_yosys(tmp_path, [src.name for src in library_sources()], "sqz_avgpool", get_part("xc7z020"), params))
    assert res["dsp"] == 0 and res["ramb18"] + res["ramb36"] >= 1, res
    bad = {**params, "NUMW": "4"}  # too narrow: the elaboration check stops Yosys too
    with pytest.raises(UserError, match="NUMW"):
        run_yosys(tmp_path, [src.name for src in library_sources()], "sqz_avgpool", get_part("xc7z020"), bad,
                  tag="bad")
    assert res["lut"] > 100 and res["ff"] > 100, res
