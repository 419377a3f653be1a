"""Brevitas == QONNX export == HLS C simulation, bit for bit, for every family member and bit width.

Each case quantizes a randomly initialised float network, calibrates its activation scales on real
Fashion-MNIST images (so activations are spread over the quantizer range, not degenerate), exports
QONNX (cleanup + channels-last) and compares the reference executor's outputs with Brevitas's on
real and random images. The same QONNX graph then goes through the HLS backend (lowering, hls4ml
with our layers, g++ C simulation) and every layer's C-simulation output must equal the reference
executor's tensor. Per-layer bit widths cycle through 2, 4 and 8 so every width is exercised in
every member; the cases also cover 1 and 3 input channels, odd input sizes (15, 27, 63, 65), max
pooling 3x3/2 in ceil and floor mode and 2x2/2, and both bypass variants. Three cases also go
through the RTL backend: the generated SystemVerilog, simulated with Verilator, must equal the C
simulation bit for bit and run at the planner's cycles per frame (within 10%).
"""
import numpy as np
import pytest
import torch

from sqzfpga.driver.layout import to_raw
from sqzfpga.hls.convert import convert_folded
from sqzfpga.hls.csim import simulate
from sqzfpga.layers import lower
from sqzfpga.model import data, export, reference
from sqzfpga.model.config import preset
from sqzfpga.model.evaluate import predict
from sqzfpga.model.quant import calibrate, quant_scales, quantize_float, is_power_of_two
from sqzfpga.model.squeezenet import SqueezeNet
from sqzfpga.rtl.plan import Budget

CYCLE_W, CYCLE_A = (2, 4, 8), (8, 4, 2)
RTL_CASES = ("v1.0", "v1.1", "complex-bypass")  # also simulated as generated RTL (Verilator)
RTL_BUDGET = Budget(dsp=48, lut=20000, ff=10**6, bram36=10**4)  # small: packing, LUT multipliers, several foldings
# (the HLS kernels take the same plan: their C simulation covers each folding too)


def cycled_bits(cfg_kwargs):
    cfg = preset(**cfg_kwargs)
    wnames, anames = cfg.layer_names()
    return preset(**cfg_kwargs, layer_weight_bits={n: CYCLE_W[i % 3] for i, n in enumerate(wnames)},
                  layer_act_bits={n: CYCLE_A[i % 3] for i, n in enumerate(anames)})


RGB = dict(in_channels=3, mean=(0.3, 0.3, 0.3), std=(0.35, 0.35, 0.35))
CASES = {  # v1.0 / v1.1 stems, 3x3/2 ceil + floor and 2x2/2 pools, 1 and 3 channels, odd sizes
    "v1.0": dict(name="v1.0", **RGB, input_size=63, num_classes=10, width_mult=0.25),
    "v1.1": dict(name="v1.1", in_channels=1, mean=(0.3,), std=(0.35,), input_size=65, num_classes=10,
                 width_mult=0.25, ceil_mode=False),
    "simple-bypass": dict(name="default", width_mult=0.25, bypass="simple", input_size=27, pool_kernel=2),
    "complex-bypass": dict(name="default", **RGB, width_mult=0.25, bypass="complex", input_size=15),
    "small": dict(name="default", width_mult=0.25),
}


def images_for(cfg, fmnist_dir, n_real=24, n_random=8):
    """Real Fashion-MNIST images centred (padded or cropped) to the input size, channels repeated."""
    real = data.load(fmnist_dir, "test").images[:n_real]
    size = cfg.input_size
    if size >= 28:
        a = (size - 28) // 2
        real = np.pad(real, ((0, 0), (0, 0), (a, size - 28 - a), (a, size - 28 - a)))
    else:
        a = (28 - size) // 2
        real = real[:, :, a:a + size, a:a + size]
    real = np.repeat(real, cfg.in_channels, axis=1)
    rnd = np.random.default_rng(1).integers(0, 256, (n_random, cfg.in_channels, size, size), dtype=np.uint8)
    return np.concatenate([real, rnd])


@pytest.mark.slow
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
    model = reference.load(onnx_path)
    got = reference.run(model, images)
    np.testing.assert_array_equal(got, expected)
    # non-degenerate: many distinct output values, so the comparison could have failed
    assert np.unique(expected).size > 8, "outputs are degenerate; the comparison would prove little"

    # the HLS backend: C simulation equals the reference in every layer
    canon, golden, low = lower(model)
    kinds = [n.op_type for n in canon.graph.node]
    assert kinds.count("SqzFire") == cfg.num_fires, kinds  # every Fire module was fused
    hm = convert_folded(canon, low.input.q, tmp_path / "hls", "xc7z020clg400-1", RTL_BUDGET)
    res, y = simulate(hm, model, golden, images, layer_images=8, log=lambda m: None)
    assert res["layer_mismatches"] == {name: 0 for name in golden}, res["layer_mismatches"]
    np.testing.assert_array_equal(y, expected.reshape(len(images), -1))
    assert res["exact"] and res["argmax_agreement"] == 1.0
    check_hls_rate(hm)

    if case in RTL_CASES:  # the RTL backend on the same graph: equal to the C simulation, cycles as planned
        check_rtl(hm, tmp_path / "rtl", images[:6], y[:6])


def check_hls_rate(hm, budget=RTL_BUDGET):
    """The HLS cycle model (the generated loops, hls/cycles.py) within 5% of the RTL plan's cycles per
    frame for the same folding: the kernels run at the RTL's rate."""
    from sqzfpga.hls import fit
    from sqzfpga.layers.units import units
    from sqzfpga.parts import get_part
    from sqzfpga.rtl.plan import plan

    hls = fit.check(fit.estimate(hm), get_part("xc7z020"))["cycles_per_frame"]
    rtl = plan(units(hm)[0], budget)["cycles_per_frame"]
    assert abs(hls / rtl - 1) <= 0.05, (hls, rtl)


def check_rtl(hm, folder, images, y):
    from sqzfpga.rtl.generate import generate
    from sqzfpga.sim import rtlsim

    manifest = generate(hm, folder, RTL_BUDGET)
    work = folder.parent / "rtlsim"
    work.mkdir()
    rtlsim.compile_design(folder, work)
    res = rtlsim.run_network(folder, work, images)
    want = to_raw(y, manifest["output"]["frac"])
    np.testing.assert_array_equal(np.asarray(res["outputs"]), want.reshape(len(images), -1))
    figs = rtlsim.cycle_figures(res, len(images))
    planned = manifest["plan"]["cycles_per_frame"]
    assert abs(figs["cycles_per_frame"] / planned - 1) <= 0.10, (figs, planned)
