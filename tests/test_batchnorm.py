"""sqzfpga.model.fold_batchnorm: BN after a conv folds exactly (float), other BNs are left and named.

Run time: about 3 s (Brevitas import included).
"""
import warnings

import pytest
import torch
import torch.nn as nn

from sqzfpga.model import fold_batchnorm


def _randomise(bn: nn.BatchNorm2d, gen) -> nn.BatchNorm2d:
    """Statistics and affine parameters far from the identity, so that a missed or wrong fold shows."""
    n = bn.num_features
    bn.running_mean.copy_(torch.randn(n, generator=gen))
    bn.running_var.copy_(torch.rand(n, generator=gen) * 3 + 0.1)
    if bn.affine:
        bn.weight.data.copy_(torch.randn(n, generator=gen))
        bn.bias.data.copy_(torch.randn(n, generator=gen))
    return bn


class UserBlock(nn.Module):
    """Brevitas-user style: named children conv -> bn, a QuantConv2d without bias, a BN after a ReLU."""

    def __init__(self, gen):
        super().__init__()
        import brevitas.nn as qnn

        self.conv1 = qnn.QuantConv2d(3, 8, 3, padding=1, bias=False)
        self.bn1 = _randomise(nn.BatchNorm2d(8), gen)
        self.relu = nn.ReLU()
        self.bn_after_relu = _randomise(nn.BatchNorm2d(8), gen)
        self.body = nn.Sequential(nn.Conv2d(8, 6, 1), _randomise(nn.BatchNorm2d(6, affine=False), gen), nn.ReLU(),
                                  nn.Conv2d(6, 4, 3, groups=2), _randomise(nn.BatchNorm2d(4), gen))

    def forward(self, x):
        return self.body(self.bn_after_relu(self.relu(self.bn1(self.conv1(x)))))


def _float_outputs(model, x):
    from brevitas.graph.calibrate import quantization_status_manager

    with torch.no_grad(), quantization_status_manager(model, disable_act_quant=True, disable_weight_quant=True,
                                                      disable_bias_quant=True, is_training=False):
        return model(x)


def test_fold_is_exact_in_float_and_leaves_a_bn_after_relu():
    gen = torch.Generator().manual_seed(0)
    model = UserBlock(gen).eval()
    x = torch.randn(5, 3, 12, 12, generator=gen)
    before = _float_outputs(model, x)
    with pytest.warns(UserWarning, match=r"left 1 BatchNorm2d.*bn_after_relu \(follows ReLU\)"):
        folded = fold_batchnorm(model)
    assert folded is model
    assert isinstance(model.bn1, nn.Identity) and isinstance(model.body[1], nn.Identity)
    assert isinstance(model.body[4], nn.Identity)
    assert isinstance(model.bn_after_relu, nn.BatchNorm2d)  # left, and named in the warning
    assert model.conv1.bias is not None  # created for the bias=False QuantConv2d
    after = _float_outputs(model, x)
    assert torch.allclose(before, after, atol=1e-5, rtol=1e-4), (before - after).abs().max()
    # a known-wrong fold (the bias left out) is caught by the same comparison
    model.conv1.bias.data.zero_()
    assert not torch.allclose(before, _float_outputs(model, x), atol=1e-5, rtol=1e-4)


def test_quantized_model_still_runs_and_plain_sequential_folds_silently():
    import brevitas.nn as qnn

    gen = torch.Generator().manual_seed(1)
    model = nn.Sequential(qnn.QuantConv2d(1, 4, 3, bias=True), _randomise(nn.BatchNorm2d(4), gen),
                          qnn.QuantReLU()).eval()
    x = torch.randn(2, 1, 8, 8, generator=gen)
    before = _float_outputs(model, x)
    with warnings.catch_warnings():
        warnings.simplefilter("error")  # every BN folded: no warning
        fold_batchnorm(model)
    assert isinstance(model[1], nn.Identity)
    assert torch.allclose(before, _float_outputs(model, x), atol=1e-5, rtol=1e-4)
    with torch.no_grad():
        assert model(x).shape == before.shape  # the quantizers re-initialised for the folded weights work


def test_bn_first_in_its_module_or_without_statistics_is_left():
    model = nn.Sequential(nn.Conv2d(1, 4, 1), nn.Sequential(nn.BatchNorm2d(4)), nn.Conv2d(4, 3, 1),
                          nn.BatchNorm2d(3, track_running_stats=False)).eval()
    with pytest.warns(UserWarning) as rec:
        fold_batchnorm(model)
    msg = str(rec[0].message)
    assert "left 2" in msg and "1.0 (first child of its module)" in msg and "3 (no running statistics" in msg
