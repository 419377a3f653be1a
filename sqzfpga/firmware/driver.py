"""The accelerator from Python: `Accelerator.open(folder).predict(images)`.

Behind it sits a transport that moves one input DMA buffer in and one output buffer out: the PYNQ
overlay's AXI DMA on the board, or the C-simulation stand-in (`standin.py`) anywhere g++ built it.
Packing and unpacking (layout.py) are the same for both, and the same as the RTL testbench's.
"""
from __future__ import annotations

import json
import time
from pathlib import Path

import numpy as np

from .layout import Layout, pack, scores, unpack

MAX_TRANSFER = (1 << 26) - 1  # bytes per simple-mode DMA transfer (c_sg_length_width 26 in the block design)


class PynqDma:
    """The bitstream loaded with PYNQ; input and output buffers in contiguous memory, reused while large enough."""

    def __init__(self, folder: Path, meta: dict):
        from pynq import Overlay, allocate  # only on the board

        self._allocate = allocate
        self.overlay = Overlay(str(folder / meta["bitstream"]))
        self.dma = getattr(self.overlay, meta["dma"])
        self._in = self._out = None

    def transfer(self, data: np.ndarray, out_bytes: int) -> np.ndarray:
        if self._in is None or self._in.shape[0] < data.size:
            self._in = self._allocate(shape=(data.size,), dtype=np.uint8)
        if self._out is None or self._out.shape[0] < out_bytes:
            self._out = self._allocate(shape=(out_bytes,), dtype=np.uint8)
        self._in[: data.size] = data
        self._in.flush()
        self.dma.recvchannel.transfer(self._out, nbytes=out_bytes)
        self.dma.sendchannel.transfer(self._in, nbytes=data.size)
        self.dma.sendchannel.wait()
        self.dma.recvchannel.wait()
        self._out.invalidate()
        return np.array(self._out[:out_bytes])


class Accelerator:
    def __init__(self, transport, layout: Layout, meta: dict):
        self.transport, self.layout, self.meta = transport, layout, meta
        self.fps = None  # frames per second of the last predict(), transfers only

    @classmethod
    def open(cls, folder, csim: bool = False) -> "Accelerator":
        """The accelerator of a deployment folder: the bitstream through PYNQ, or with `csim` the
        C-simulation stand-in built with the package."""
        folder = Path(folder)
        meta = json.loads((folder / "accel.json").read_text())
        if csim:
            from .standin import CsimStandin

            transport = CsimStandin(folder / meta["standin"])
        else:
            transport = PynqDma(folder, meta)
        return cls(transport, Layout.from_dict(meta["layout"]), meta)

    def run(self, images: np.ndarray) -> np.ndarray:
        """uint8 images N x C x H x W -> raw output integers N x out_words (exact fixed-point)."""
        lay = self.layout
        per = max(1, MAX_TRANSFER // max(lay.in_bytes, lay.out_bytes))
        out, busy = [], 0.0
        for i in range(0, len(images), per):
            chunk = images[i:i + per]
            buf = pack(chunk, lay)
            t0 = time.perf_counter()
            got = self.transport.transfer(buf, len(chunk) * lay.out_bytes)
            busy += time.perf_counter() - t0
            out.append(unpack(got, len(chunk), lay))
        self.fps = len(images) / busy if busy > 0 else None
        return np.concatenate(out) if out else np.zeros((0, lay.out_words), dtype=np.int64)

    def predict(self, images: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """Class indices and scores (real values) of a batch of uint8 images."""
        raw = self.run(images)
        return raw.argmax(1), scores(raw, self.layout)
