"""QONNX export is bit-exact with the Brevitas model, for every family member and bit width.

Each case quantizes a randomly initialised float network, calibrates its activation scales on real
Fashion-MNIST images (so activations are spread over the quantizer range, not degenerate), exports
QONNX (cleanup + channels-last) and compares the reference executor's outputs with Brevitas's on
real and random images. Per-layer bit widths cycle through 2, 4 and 8 so every width is exercised
in every member.
"""
import numpy as np
import pytest
import torch

from sqzfpga.model import data, export, reference
from sqzfpga.model.config import preset
from sqzfpga.model.evaluate import predict
from sqzfpga.model.quant import calibrate, quant_scales, quantize_float, is_power_of_two
from sqzfpga.model.squeezenet import SqueezeNet

CYCLE_W, CYCLE_A = (2, 4, 8), (8, 4, 2)


def cycled_bits(cfg_kwargs):
    cfg = preset(**cfg_kwargs)
    wnames, anames = cfg.layer_names()
    return preset(**cfg_kwargs, layer_weight_bits={n: CYCLE_W[i % 3] for i, n in enumerate(wnames)},
                  layer_act_bits={n: CYCLE_A[i % 3] for i, n in enumerate(anames)})


CASES = {
    "v1.0": dict(name="v1.0", in_channels=1, mean=(0.3,), std=(0.35,), input_size=64, num_classes=10,
                 width_mult=0.25),
    "v1.1": dict(name="v1.1", in_channels=1, mean=(0.3,), std=(0.35,), input_size=64, num_classes=10,
                 width_mult=0.25),
    "simple-bypass": dict(name="default", width_mult=0.25, bypass="simple"),
    "complex-bypass": dict(name="default", width_mult=0.25, bypass="complex"),
    "small": dict(name="default", width_mult=0.25),
}


def images_for(cfg, fmnist_dir, n_real=24, n_random=8):
    real = data.load(fmnist_dir, "test").images[:n_real]
    pad = (cfg.input_size - 28) // 2
    real = np.pad(real, ((0, 0), (0, 0), (pad, cfg.input_size - 28 - pad), (pad, cfg.input_size - 28 - pad)))
    rnd = np.random.default_rng(1).integers(0, 256, (n_random, 1, cfg.input_size, cfg.input_size), dtype=np.uint8)
    return np.concatenate([real, rnd])


@pytest.mark.parametrize("case", list(CASES))
def test_qonnx_equals_brevitas(case, fmnist_dir, tmp_path):
    torch.manual_seed(0)
    cfg = cycled_bits(CASES[case])
    bits_used = set(cfg.layer_weight_bits.values()) | set(cfg.layer_act_bits.values())
    assert bits_used == {2, 4, 8}
    qmodel = quantize_float(SqueezeNet(cfg))
    calib = images_for(cfg, fmnist_dir, n_real=200, n_random=0)
    calibrate(qmodel, [torch.from_numpy(calib[i:i + 50]).float() for i in range(0, 200, 50)])
    assert all(is_power_of_two(s) for s in quant_scales(qmodel).values())

    images = images_for(cfg, fmnist_dir)
    expected = predict(qmodel, images)
    onnx_path = export.export(qmodel, tmp_path / "m.onnx")
    got = reference.run(reference.load(onnx_path), images)
    np.testing.assert_array_equal(got, expected)
    # non-degenerate: many distinct output values, so the comparison could have failed
    assert np.unique(expected).size > 8, "outputs are degenerate; the comparison would prove little"
