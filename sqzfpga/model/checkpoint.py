"""Checkpoints: atomic writes, self-describing contents, clear errors for foreign files.

A checkpoint holds the model config, whether it is quantized, the weights, a few metrics and
(while training) the optimiser state needed to resume. Writes go to a temporary file in the same
folder and are renamed into place, so an interrupted write never replaces a good checkpoint.
"""
from __future__ import annotations

from pathlib import Path

import torch

from sqzfpga.atomic import atomic_path
from sqzfpga.errors import UserError, short_reason
from sqzfpga.model.config import ModelConfig
from sqzfpga.model.squeezenet import SqueezeNet

FORMAT = "sqzfpga-checkpoint"
DEFAULT_DIR = Path(__file__).parent / "default"
DEFAULT_CHECKPOINT = DEFAULT_DIR / "model.pt"
DEFAULT_SAMPLES = DEFAULT_DIR / "samples.npz"


def save(path: str | Path, model: SqueezeNet, meta: dict | None = None, train_state: dict | None = None) -> None:
    payload = {"format": FORMAT, "version": 1, "config": model.cfg.to_dict(), "quantized": model.quantized,
               "state_dict": model.state_dict(), "meta": meta or {}}
    if train_state is not None:
        payload["train_state"] = train_state
    atomic_torch_save(payload, Path(path))


def atomic_torch_save(obj, path: Path) -> None:
    with atomic_path(path) as tmp:
        torch.save(obj, tmp)


def _unreadable(path: Path, e: Exception) -> str:
    """Why torch.load failed, in words (torch's own message talks about weights_only for any junk)."""
    head = path.read_bytes()[:4]
    if not head:
        return "empty file"
    if head.startswith(b"PK"):  # torch.save's zip format
        return "truncated zip archive" if "central directory" in str(e) else short_reason(e)
    return short_reason(e) if head.startswith(b"\x80") else "neither a zip archive nor a pickle"


def read(path: str | Path) -> dict:
    """Read a file written by `save`, or a bare state_dict (returned as {'state_dict': ...})."""
    path = Path(path)
    if not path.is_file():
        if path == DEFAULT_CHECKPOINT:
            raise UserError(f"default model {path}: missing from the installation; reinstall sqzfpga or give --model")
        raise UserError(f"checkpoint {path}: no such file; train one with `python -m sqzfpga train` "
                        "or omit --model to use the default model")
    try:
        obj = torch.load(path, map_location="cpu", weights_only=True)
    except Exception as e:
        raise UserError(f"checkpoint {path}: not a readable PyTorch checkpoint ({_unreadable(path, e)}); expected a "
                        "file written by `sqzfpga train` or a torchvision SqueezeNet state_dict") from None
    if isinstance(obj, dict) and obj.get("format") == FORMAT:
        return obj
    if isinstance(obj, dict) and obj and all(isinstance(v, torch.Tensor) for v in obj.values()):
        return {"state_dict": obj}
    raise UserError(f"checkpoint {path}: unrecognised contents; expected a file written by `sqzfpga train` "
                    "or a SqueezeNet state_dict")


def load_weights(model: torch.nn.Module, state_dict: dict, path) -> None:
    """Load weights, turning shape/key mismatches into one line that says which architecture is expected.

    Brevitas creates learned scales lazily (a fresh quantized model has no `...scaling_impl.value`
    entries yet), so quantizer keys may be extra here; Brevitas's own loader consumes them.
    """
    own = model.state_dict()
    missing = [k for k in own if k not in state_dict]
    unexpected = [k for k in state_dict if k not in own and "quant" not in k]
    wrong = [f"{k} {tuple(v.shape)} (model has {tuple(own[k].shape)})" for k, v in state_dict.items()
             if k in own and tuple(v.shape) != tuple(own[k].shape)]
    if missing or unexpected or wrong:
        detail = "; ".join(filter(None, [
            f"shape mismatch: {', '.join(wrong[:3])}" if wrong else "",
            f"missing: {', '.join(missing[:3])}" if missing else "",
            f"unexpected: {', '.join(unexpected[:3])}" if unexpected else ""]))
        raise UserError(f"checkpoint {path}: weights do not fit this architecture ({detail}); expected a "
                        f"checkpoint of {describe(model.cfg)}; pick the matching --preset/options or checkpoint")
    result = model.load_state_dict(state_dict, strict=False)
    if result.unexpected_keys:
        raise UserError(f"checkpoint {path}: quantizer state {result.unexpected_keys[:2]} does not fit this "
                        f"model; expected a checkpoint of {describe(model.cfg)}")


def describe(cfg: ModelConfig) -> str:
    return (f"SqueezeNet stem {cfg.stem}, {cfg.in_channels}x{cfg.input_size}x{cfg.input_size} input, "
            f"{cfg.num_classes} classes, width x{cfg.width_mult}, bypass {cfg.bypass}")


def config_of(ckpt: dict, path) -> ModelConfig:
    if "config" not in ckpt:
        raise UserError(f"checkpoint {path}: a bare state_dict has no model config; expected a checkpoint "
                        "written by `sqzfpga train` (use a state_dict with `train --init` and a --preset)")
    try:
        return ModelConfig.from_dict(ckpt["config"])
    except (TypeError, ValueError) as e:
        raise UserError(f"checkpoint {path}: model config is malformed ({short_reason(e)})") from None


def load_model(path: str | Path) -> tuple[SqueezeNet, dict]:
    """Rebuild the network stored in a checkpoint written by `save` (float or quantized), in eval mode."""
    ckpt = read(path)
    cfg = config_of(ckpt, path)
    if ckpt.get("quantized"):
        from sqzfpga.model.quant import build_quant
        model = build_quant(cfg)
    else:
        model = SqueezeNet(cfg)
    load_weights(model, ckpt["state_dict"], path)
    model.eval()
    return model, ckpt
