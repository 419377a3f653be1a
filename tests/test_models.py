"""Architecture: torchvision layouts and parameter counts, metaparameters, bypass variants."""
import pytest
import torch

from sqzfpga.errors import UserError
from sqzfpga.model import checkpoint
from sqzfpga.model.config import ModelConfig, preset
from sqzfpga.model.squeezenet import SqueezeNet, count_parameters

# torchvision's SqueezeNet layouts, written out from the paper's tables: Fire positions in
# `features` and (in, squeeze, expand1x1, expand3x3) channels.
FIRES = [(96, 16, 64, 64), (128, 16, 64, 64), (128, 32, 128, 128), (256, 32, 128, 128),
         (256, 48, 192, 192), (384, 48, 192, 192), (384, 64, 256, 256), (512, 64, 256, 256)]
TORCHVISION = {
    "v1.0": ((96, 3, 7, 7), [3, 4, 5, 7, 8, 9, 10, 12], 96),
    "v1.1": ((64, 3, 3, 3), [3, 4, 6, 7, 9, 10, 11, 12], 64),
}


def torchvision_state_dict(version: str) -> dict:
    conv1, positions, c1 = TORCHVISION[version]
    sd = {"features.0.weight": torch.randn(conv1), "features.0.bias": torch.randn(conv1[0])}
    for pos, (cin, s, e1, e3) in zip(positions, FIRES):
        cin = c1 if pos == 3 else cin
        for name, shape in [("squeeze", (s, cin, 1, 1)), ("expand1x1", (e1, s, 1, 1)), ("expand3x3", (e3, s, 3, 3))]:
            sd[f"features.{pos}.{name}.weight"] = torch.randn(shape)
            sd[f"features.{pos}.{name}.bias"] = torch.randn(shape[0])
    sd["classifier.1.weight"] = torch.randn(1000, 512, 1, 1)
    sd["classifier.1.bias"] = torch.randn(1000)
    return sd


@pytest.mark.parametrize("version,params", [("v1.0", 1_248_424), ("v1.1", 1_235_496)])
def test_torchvision_parameter_counts_and_keys(version, params):
    model = SqueezeNet(preset(version))
    assert count_parameters(model) == params
    sd = torchvision_state_dict(version)
    assert sum(v.numel() for v in sd.values()) == params
    checkpoint.load_weights(model, sd, "torchvision")
    for key, value in sd.items():
        assert torch.equal(model.state_dict()[key], value), key
    assert model(torch.zeros(1, 3, 224, 224)).shape == (1, 1000)


def test_torchvision_weights_rejected_by_other_architecture():
    with pytest.raises(UserError, match="do not fit this architecture"):
        checkpoint.load_weights(SqueezeNet(preset("v1.1")), torchvision_state_dict("v1.0"), "v1.0.pth")


def test_metaparameters_generate_paper_widths():
    cfg = ModelConfig(base_e=128, incr_e=128, freq=2, pct3x3=0.5, sr=0.125, stem="v1.0", pool_after=(4, 8))
    got = [(f.cin, f.squeeze, f.expand1x1, f.expand3x3) for f in cfg.fires()]
    assert got == [(96, 16, 64, 64)] + FIRES[1:]
    # another member: more 3x3 filters, higher squeeze ratio
    other = ModelConfig(pct3x3=0.75, sr=0.25, base_e=64, incr_e=32, freq=1)
    f = other.fires()
    assert [x.expand1x1 + x.expand3x3 for x in f] == [64 + 32 * i for i in range(8)]
    assert f[0].expand3x3 == 48 and f[0].squeeze == 16
    assert SqueezeNet(other)(torch.zeros(1, 3, 224, 224)).shape == (1, 1000)


@pytest.mark.parametrize("bypass,kinds", [
    ("simple", ["none", "identity", "none", "identity", "none", "identity", "none", "identity"]),
    ("complex", ["conv", "identity", "conv", "identity", "conv", "identity", "conv", "identity"]),
])
def test_bypass_variants(bypass, kinds):
    cfg = preset("v1.0", bypass=bypass)
    assert [f.bypass for f in cfg.fires()] == kinds
    model = SqueezeNet(cfg)
    extra = sum(f.cin * f.cout + f.cout for f in cfg.fires() if f.bypass == "conv")
    assert count_parameters(model) == 1_248_424 + extra
    assert model(torch.zeros(1, 3, 224, 224)).shape == (1, 1000)


def test_small_input_stem_width_channels_classes():
    cfg = preset("small", in_channels=5, num_classes=7, input_size=40, width_mult=0.5,
                 mean=(0.5,) * 5, std=(0.25,) * 5)
    model = SqueezeNet(cfg)
    assert model.features[0].kernel_size == (3, 3) and model.features[0].stride == (1, 1)
    assert cfg.conv1_channels == 32 and cfg.fires()[-1].cout == 256
    assert model(torch.zeros(2, 5, 40, 40)).shape == (2, 7)


@pytest.mark.parametrize("bad,match", [
    (dict(weight_bits=9), "weight_bits = 9"), (dict(act_bits=1), "act_bits = 1"),
    (dict(layer_weight_bits={"conv1": 12}), "weight bits of conv1 = 12"),
    (dict(layer_act_bits={"nope": 4}), "unknown layer"), (dict(input_size=4), "shrinks to nothing"),
    (dict(freq=0), "freq >= 1"), (dict(output_bits=24), "output_bits")])
def test_config_rejects_bad_values(bad, match):
    with pytest.raises(UserError, match=match):
        preset("default", **bad)


def test_folded_normalisation_matches_float_network():
    """Quantized conv1 sees raw pixels; with the fold it computes what the float conv1 computes."""
    from sqzfpga.model.quant import fold_normalisation

    torch.manual_seed(0)
    model = SqueezeNet(preset("default", width_mult=0.25)).eval()
    sd = fold_normalisation(model)
    x = torch.randint(0, 256, (4, 1, 28, 28)).float()
    ref = model.features[0](torch.nn.functional.pad(x, [1] * 4) * model.norm_scale + model.norm_shift)
    got = torch.nn.functional.conv2d(x, sd["features.0.weight"], sd["features.0.bias"], padding=1)
    assert torch.allclose(ref, got, atol=1e-4)


def test_batchnorm_folds_into_the_convs_exactly():
    """With trained-looking BatchNorm statistics, the folded state_dict (no BN, normalisation in conv1)
    computes the float network's eval-mode logits; skipping the BN fold changes them."""
    from sqzfpga.model.quant import fold_normalisation
    from sqzfpga.model.squeezenet import ConvBN

    torch.manual_seed(0)
    model = SqueezeNet(preset("default", width_mult=0.25))
    bns = [m.bn for m in model.modules() if isinstance(m, ConvBN)]
    assert len(bns) == len(model.conv_layers()) - 1  # every conv but the classifier
    with torch.no_grad():
        for bn in bns:
            bn.running_mean.uniform_(-0.5, 0.5)
            bn.running_var.uniform_(0.2, 3.0)
            bn.weight.uniform_(0.5, 1.5)
            bn.bias.uniform_(-0.3, 0.3)
    model.eval()
    sd = fold_normalisation(model)
    assert not any(".bn." in k for k in sd)
    plain = SqueezeNet(preset("default", width_mult=0.25, batchnorm=False)).eval()
    plain.load_state_dict(sd)
    plain.norm_scale.fill_(1.0)  # the fold already normalises: feed raw pixels, padded with raw zeros
    plain.norm_shift.fill_(0.0)
    x = torch.randint(0, 256, (4, 1, 28, 28)).float()
    ref, got = model(x), plain(x)
    assert torch.allclose(ref, got, rtol=1e-4, atol=1e-4 * float(ref.abs().max()))
    unfolded = {k: v for k, v in model.state_dict().items() if ".bn." not in k}
    plain.load_state_dict({**unfolded, "features.0.weight": sd["features.0.weight"],
                           "features.0.bias": sd["features.0.bias"]})
    assert not torch.allclose(ref, plain(x), rtol=1e-2, atol=1e-2 * float(ref.abs().max()))


def test_quantized_checkpoint_round_trip_is_exact(tmp_path, fmnist_dir):
    """Learned power-of-two scales survive save/load (Brevitas creates them lazily)."""
    from sqzfpga.model import data
    from sqzfpga.model.evaluate import predict
    from sqzfpga.model.quant import calibrate, quant_scales, quantize_float

    torch.manual_seed(0)
    qmodel = quantize_float(SqueezeNet(preset("default", width_mult=0.25)))
    images = data.load(fmnist_dir, "test").images[:128]
    calibrate(qmodel, [torch.from_numpy(images).float()])
    checkpoint.save(tmp_path / "q.pt", qmodel)
    loaded, _ = checkpoint.load_model(tmp_path / "q.pt")
    assert quant_scales(loaded) == quant_scales(qmodel)
    assert len(set(quant_scales(qmodel).values())) > 2  # calibrated, not the initial scale
    assert (predict(loaded, images) == predict(qmodel, images)).all()
