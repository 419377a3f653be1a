"""Fold BatchNorm into the convolution before it, so that a quantized graph has no BatchNormalization.

The accelerator has no normalisation layer: a BatchNorm2d in eval mode is a per-channel affine map,
y = s * (x - mean) + beta with s = gamma / sqrt(var + eps), and when it directly follows a convolution
it folds exactly into that conv: W' = s * W (per output channel), b' = s * (b - mean) + beta.

The flow for a user's model with BatchNorm (Brevitas layers or plain torch):

    float training (BN in train mode, quantizers on or off)
    -> model.eval(); sqzfpga.model.fold_batchnorm(model)      # exact in float: BNs become Identity
    -> calibrate the activation quantizers (brevitas.graph.calibrate.calibration_mode) on a few batches
    -> quantization-aware fine-tuning (QAT) of the folded model
    -> brevitas.export.export_qonnx(model, ...)               # no BatchNormalization node left

Folding after calibration or QAT would change the weights the quantizers were fitted to; folding first
lets calibration and QAT see the weights the hardware will hold.
"""
from __future__ import annotations

import warnings

import torch
import torch.nn as nn


def fold_batchnorm(module: nn.Module) -> nn.Module:
    """Fold every BatchNorm2d that directly follows a Conv2d (or a Brevitas QuantConv2d) into that conv.

    Patterns found, in every module of the tree (the module itself and all its descendants):
    - in an nn.Sequential: a BatchNorm2d that is the next child after a conv (execution order);
    - in any other module: a BatchNorm2d registered as the next child after a conv, the usual
      `self.conv = ...; self.bn = ...` style (forward() is assumed to apply that BN straight to that
      conv's output, as such code does).
    The conv gets the folded weight and bias (a bias is created if it had none; Brevitas weight and bias
    quantizers are re-initialised for the new values) and the BN is replaced by nn.Identity, in place;
    the module is returned. A BatchNorm2d that matches no pattern (after a ReLU, a pool, a concat; a
    channel count that differs; no running statistics) is left as it is and named in a warning.
    The output in eval mode is unchanged up to float rounding (with quantizers disabled; quantized
    weights change by design, so calibrate and fine-tune after folding).
    """
    left = []
    for parent_name, parent in list(module.named_modules()):
        children = list(parent.named_children())
        for (prev_name, prev), (name, child) in zip([(None, None)] + children[:-1], children):
            if type(child) is not nn.BatchNorm2d:
                continue
            qualified = f"{parent_name}.{name}" if parent_name else name
            why = _unfoldable(prev, child)
            if why:
                left.append(f"{qualified} ({why})")
                continue
            fold_into(prev, child)
            setattr(parent, name, nn.Identity())
    if left:
        warnings.warn(f"fold_batchnorm: left {len(left)} BatchNorm2d not directly after a conv: {'; '.join(left)}; "
                      "the exported graph keeps a BatchNormalization for each, which sqzfpga refuses; move each "
                      "BN right after a conv or fold it by hand", stacklevel=2)
    return module


def _unfoldable(prev, bn: nn.BatchNorm2d) -> str | None:
    if not isinstance(prev, nn.Conv2d):  # brevitas QuantConv2d subclasses nn.Conv2d
        return f"follows {type(prev).__name__}" if prev is not None else "first child of its module"
    if prev.out_channels != bn.num_features:
        return f"{bn.num_features} features after a conv of {prev.out_channels} output channels"
    if bn.running_mean is None or bn.running_var is None:
        return "no running statistics (track_running_stats=False)"
    return None


@torch.no_grad()
def fold_into(conv: nn.Conv2d, bn: nn.BatchNorm2d) -> None:
    """W' = s * W, b' = s * (b - mean) + beta, in place (bn itself is left untouched)."""
    scale = bn.weight.detach() if bn.weight is not None else torch.ones_like(bn.running_var)
    shift = bn.bias.detach() if bn.bias is not None else torch.zeros_like(bn.running_mean)
    s = scale / torch.sqrt(bn.running_var + bn.eps)
    bias = conv.bias.detach() if conv.bias is not None else torch.zeros_like(bn.running_mean)
    conv.weight.mul_(s.view(-1, 1, 1, 1).to(conv.weight.dtype))
    new_bias = (s * (bias - bn.running_mean) + shift).to(conv.weight.dtype)
    if conv.bias is not None:
        conv.bias.copy_(new_bias)
    else:
        conv.bias = nn.Parameter(new_bias)
    for proxy in (getattr(conv, "weight_quant", None), getattr(conv, "bias_quant", None)):
        if hasattr(proxy, "init_tensor_quant"):  # as brevitas.nn.utils.merge_bn does
            proxy.init_tensor_quant()
