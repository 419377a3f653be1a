"""The PyTorch side: the SqueezeNet family, datasets, training, checkpoints, QONNX export.

`fold_batchnorm` is imported on first use, so that `sqzfpga.model.data` and friends load without torch.
"""


def __getattr__(name):
    if name == "fold_batchnorm":
        from sqzfpga.model.batchnorm import fold_batchnorm
        return fold_batchnorm
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")


__all__ = ["fold_batchnorm"]
