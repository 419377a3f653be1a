"""Fuzzing: random small SqueezeNet-family models (tests/fuzzing.py) must give Brevitas == QONNX
reference == C simulation in every layer, and (fewer, they cost a Verilator build each) the
generated RTL == C simulation. Derandomized (a fixed seed) and bounded here; benchmarks/fuzz.py runs
hundreds. Every failing example found is kept, so it runs on every CI: as an @example, or, where
the example crashed its worker before it could be recorded, as the QONNX file it had exported
(tests/fuzz_regressions/).
"""
from pathlib import Path

import numpy as np
import pytest
from hypothesis import HealthCheck, Phase, example, given, settings

import fuzzing

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


@settings(FUZZ, max_examples=2)
@example(ex=DEAD_LAYER)
@given(ex=fuzzing.configs())
def test_random_models_csim_exact(ex, tmp_path_factory):
    fuzzing.check(ex, tmp_path_factory.mktemp("fuzz"))


@settings(FUZZ, max_examples=1)
@given(ex=fuzzing.configs().filter(lambda e: e["num_fires"] >= 2 and e["bypass"] != "none"))
def test_random_models_rtl_exact(ex, tmp_path_factory):
    fuzzing.check(ex, tmp_path_factory.mktemp("fuzz_rtl"), rtl=True, n_images=4)


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
