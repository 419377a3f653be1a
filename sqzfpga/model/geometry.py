"""Output sizes of pooling windows, shared by the model config and the reference executor."""
from __future__ import annotations

import math


def pool_out(size: int, k: int, s: int, pad_begin: int = 0, pad_end: int = 0, ceil_mode: bool = False) -> int:
    """PyTorch/ONNX output size; in ceil mode the last window must start inside the input or left padding."""
    if ceil_mode:
        out = math.ceil((size + pad_begin + pad_end - k) / s) + 1
        if (out - 1) * s >= size + pad_begin:
            out -= 1
        return out
    return (size + pad_begin + pad_end - k) // s + 1
