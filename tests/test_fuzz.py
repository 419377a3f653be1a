"""Fuzzing: random small SqueezeNet-family models (tests/fuzzing.py) and user-style Brevitas models
(tests/user_fuzz.py: Dense heads, per-channel weight scales, folded BatchNorm, preprocessed inputs,
signed outputs) must give Brevitas == QONNX reference == C simulation in every layer, and (fewer,
they cost a Verilator build each) the generated RTL == C simulation. Derandomized (a fixed seed)
and bounded here; benchmarks/fuzz.py runs hundreds. Every failing example found is kept, so it runs
on every CI: as an @example, or, where the example crashed its worker before it could be recorded,
as the QONNX file it had exported (tests/fuzz_regressions/). The user-style tests take about 30 s
on 2 cores under load 3 (two models to the C simulation 14 s, one to the RTL simulation 15 s).
"""
from pathlib import Path

import numpy as np
import pytest
from hypothesis import HealthCheck, Phase, example, given, settings

import fuzzing
import user_fuzz

REGRESSIONS = sorted((Path(__file__).parent / "fuzz_regressions").glob("*.onnx"))

FUZZ = settings(deadline=None, derandomize=True, database=None, phases=[Phase.explicit, Phase.generate],
                suppress_health_check=[HealthCheck.too_slow, HealthCheck.function_scoped_fixture])

# Found by fuzzing: Fire biases are initialised to zero and one layer died (all-zero activations), so
# Brevitas clamped those scales to its 1e-10 floor (not a power of two: the lowering refused the
# model); with a power-of-two floor the bias type became ap_fixed<8,-23> and the C simulation's
# requantisation of the 2^-31-scaled accumulator hit an ap_types assertion (rounding bit beyond MSB).
DEAD_LAYER = {
    "stem": "small", "in_channels": 2, "input_size": 13, "num_classes": 8, "num_fires": 4, "pool_after": [2, 4],
    "ceil_mode": True, "pool_kernel": 3, "base_e": 2, "incr_e": 13, "freq": 3, "pct3x3": 0.5, "sr": 0.25,
    "width_mult": 1.0, "bypass": "complex", "dropout": 0.0, "mean": [0.0, 0.2], "std": [0.3, 0.3], "output_bits": 12,
    "layer_weight_bits": {"conv1": 3, "fire2.squeeze": 6, "fire2.expand1x1": 7, "fire2.expand3x3": 7,
                          "fire2.bypass": 7, "fire3.squeeze": 2, "fire3.expand1x1": 2, "fire3.expand3x3": 3,
                          "fire4.squeeze": 6, "fire4.expand1x1": 2, "fire4.expand3x3": 5, "fire5.squeeze": 3,
                          "fire5.expand1x1": 5, "fire5.expand3x3": 5, "fire5.bypass": 4, "classifier": 3},
    "layer_act_bits": {"conv1": 8, "fire2.squeeze": 3, "fire2.expand": 7, "fire2.add": 2, "fire3.squeeze": 7,
                       "fire3.expand": 6, "fire3.add": 5, "fire4.squeeze": 8, "fire4.expand": 5, "fire4.add": 6,
                       "fire5.squeeze": 6, "fire5.expand": 6, "fire5.add": 4, "classifier": 8},
    "seed": 7777, "dsp": 16}


@pytest.mark.slow
@settings(FUZZ, max_examples=2)
@example(ex=DEAD_LAYER)
@given(ex=fuzzing.configs())
def test_random_models_csim_exact(ex, tmp_path_factory):
    fuzzing.check(ex, tmp_path_factory.mktemp("fuzz"))


@pytest.mark.slow
@settings(FUZZ, max_examples=1)
@given(ex=fuzzing.configs().filter(lambda e: e["num_fires"] >= 2 and e["bypass"] != "none"))
def test_random_models_rtl_exact(ex, tmp_path_factory):
    fuzzing.check(ex, tmp_path_factory.mktemp("fuzz_rtl"), rtl=True, n_images=4)


# One of each feature of the user-style generator, as pasteable examples. DENSE_FLATTEN: per-channel
# input table for (byte/255 - mean_c)/std_c into a signed 8-bit quantizer, a folded BatchNorm on a
# per-channel conv, the 3x3 map flattened into two per-channel QuantLinears, a signed 12-bit output.
DENSE_FLATTEN = {
    "in_channels": 3, "input_size": 12, "input": "meanstd", "in_bits": 8, "in_signed": True, "in_coarse": False,
    "mean": [0.5, 0.45, 0.25], "std": [0.5, 0.6, 0.25],
    "convs": [{"out": 6, "k": 3, "stride": 2, "pad": True, "pool": False, "wbits": 6, "abits": 6, "bn": True,
               "per_channel": True, "shrink": 3, "dead": False},
              {"out": 5, "k": 1, "stride": 1, "pad": False, "pool": True, "wbits": 4, "abits": 5, "bn": False,
               "per_channel": False, "shrink": 0, "dead": False}],
    "head": "flatten", "hidden": 12, "fc_wbits": [5, 4], "fc_per_channel": [True, True], "fc_abits": 6,
    "out": "signed", "out_bits": 12, "num_classes": 6, "bias_bits": 16, "seed": 18, "dsp": 48}
# DENSE_GAP (through the RTL too): bytes/255 into an unsigned 8-bit quantizer of scale 2^-8 (a table), a
# folded BatchNorm on a per-channel conv with a dead (all-zero) channel, the global average pool into a
# per-channel QuantLinear, a signed 10-bit output.
DENSE_GAP = {
    "in_channels": 1, "input_size": 10, "input": "unit", "in_bits": 8, "in_signed": False, "in_coarse": False,
    "convs": [{"out": 8, "k": 3, "stride": 1, "pad": False, "pool": True, "wbits": 5, "abits": 6, "bn": True,
               "per_channel": True, "shrink": 2, "dead": True}],
    "head": "gap", "hidden": 0, "fc_wbits": [6], "fc_per_channel": [True], "fc_abits": 7, "out": "signed",
    "out_bits": 10, "num_classes": 4, "bias_bits": 8, "seed": 7, "dsp": 16}


@settings(FUZZ, max_examples=1)
@example(ex=DENSE_FLATTEN)
@given(ex=user_fuzz.user_models())
def test_random_user_models_csim_exact(ex, tmp_path_factory):
    out = user_fuzz.check(ex, tmp_path_factory.mktemp("user_fuzz"))
    assert ex is not DENSE_FLATTEN or out["distinct_outputs"] > 12, out  # not a degenerate comparison


def test_user_model_rtl_exact(tmp_path):
    out = user_fuzz.check(DENSE_GAP, tmp_path, rtl=True, n_images=6)
    assert out["distinct_outputs"] > 4 and out["rtl"]["cycles_per_frame"] > 0, out


# FILLING (found by benchmarks/fuzz.py; RTL 8% over its plan when measured on 3 frames): a 6x6 input
# whose four first stages all take the input's 36 cycles, then a strided conv and a flattened Dense
# head; about 4 frames are in flight, and until the pipeline has filled, frames come out 39 cycles apart.
FILLING = {
    "in_channels": 2, "input_size": 6, "input": "unit", "in_bits": 7, "in_signed": False, "in_coarse": True,
    "convs": [{"out": 7, "k": 1, "stride": 1, "pad": True, "pool": True, "wbits": 3, "abits": 2, "bn": False,
               "per_channel": False, "shrink": 0, "dead": False},
              {"out": 5, "k": 1, "stride": 2, "pad": True, "pool": False, "wbits": 2, "abits": 6, "bn": True,
               "per_channel": True, "shrink": 5, "dead": False}],
    "head": "flatten", "hidden": 12, "fc_wbits": [8, 5], "fc_per_channel": [False, True], "fc_abits": 8,
    "out": "unit", "out_bits": 8, "num_classes": 7, "bias_bits": 8, "seed": 368, "dsp": 200}


def test_rate_is_measured_after_the_pipeline_fills(tmp_path):
    """The fuzz's check simulates as many frames as the pipeline holds before it measures (26 s)."""
    out = user_fuzz.check(FILLING, tmp_path, rtl=True, n_images=12)["rtl"]
    assert out["steady"] and out["frames"] > 3 and out["cycles_per_frame"] == out["planned"], out


def test_rate_of_a_filling_pipeline_is_not_called_steady():
    """FILLING's output times in the RTL simulation (10 ns cycles): 3 frames see only the filling
    pipeline's 39-cycle interval, which is reported as not steady; 7 frames see its 36."""
    from sqzfpga.sim.rtlsim import cycle_figures

    t_out = [1480, 1870, 2260, 2620, 2980, 3340, 3700]
    res = {"period_ns": 10, "t_in_ns": [0, 360, 720, 1080, 1440, 1800, 2160], "t_out_ns": t_out}
    short = cycle_figures({**res, "t_out_ns": t_out[:3]}, 3)
    assert short == {"cycles_per_frame": 39.0, "latency_cycles": 148, "steady": False, "frames_to_steady": 6}
    assert cycle_figures(res, 7) == {"cycles_per_frame": 36.0, "latency_cycles": 148, "steady": True,
                                     "frames_to_steady": 7}


def test_check_feeds_brevitas_the_stated_preprocessing(tmp_path):
    """The check is not vacuous: the same export with another stated preprocessing (means off by
    0.1) differs from Brevitas on the same bytes."""
    import onnx

    from sqzfpga.model import preprocess

    path, net, pre = user_fuzz.export(DENSE_FLATTEN, tmp_path)
    model = onnx.load(str(path))
    preprocess.store(model, preprocess.Preprocess(pre.scale, tuple(m + 0.1 for m in pre.mean), pre.std, "options"))
    onnx.save(model, str(path))
    x = fuzzing.images(3, 12, 4, 0)
    with pytest.raises(AssertionError, match="QONNX reference != Brevitas"):
        fuzzing.check_export(path, x, user_fuzz.brevitas_outputs(net, pre, x), tmp_path, 48)


@pytest.mark.parametrize("path", REGRESSIONS, ids=[p.stem for p in REGRESSIONS])
def test_kept_fuzz_models_csim_exact(path, tmp_path):
    """Found by benchmarks/fuzz.py: a dead layer left a 4-bit input to the global average pool and a
    13-bit output; the pool's numerator was sized from the input only, so taking the output's bits
    read beyond its MSB (ap_types aborted the C simulation; the RTL would have selected past it)."""
    from sqzfpga.hls.convert import convert
    from sqzfpga.hls.csim import simulate
    from sqzfpga.layers import lower
    from sqzfpga.model import reference

    model = reference.load(path)
    _, c, h, _ = reference.input_shape(model)
    x = fuzzing.images(c, h, 8, 0)
    canon, golden, low = lower(model)
    hm = convert(canon, low.input.q, tmp_path / "hls", "xc7z020clg400-1")
    res, y = simulate(hm, model, golden, x, layer_images=4, log=lambda m: None)
    assert res["exact"] and not any(res["layer_mismatches"].values()), res
    np.testing.assert_array_equal(y, reference.run(model, x).reshape(len(x), -1))
