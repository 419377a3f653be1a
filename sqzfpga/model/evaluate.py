"""Accuracy of a PyTorch model (float or quantized) on a dataset."""
from __future__ import annotations

import numpy as np
import torch

from sqzfpga.model.data import Dataset


@torch.no_grad()
def predict(model: torch.nn.Module, images: np.ndarray, batch_size: int = 250) -> np.ndarray:
    """Network outputs (float32, N x classes) for uint8 NCHW images."""
    was_training = model.training
    model.eval()
    outs = [model(torch.from_numpy(images[i:i + batch_size]).float()).numpy()
            for i in range(0, len(images), batch_size)]
    model.train(was_training)
    return np.concatenate(outs) if outs else np.zeros((0, model.cfg.num_classes), np.float32)


def accuracy(model: torch.nn.Module, ds: Dataset, batch_size: int = 250) -> float:
    if len(ds) == 0:
        return float("nan")
    return float((predict(model, ds.images, batch_size).argmax(1) == ds.labels).mean())
