"""The accelerator from Python: `Accelerator.open(folder).predict(images)`.

Behind it sits a transport that moves one input DMA buffer in and one output buffer out: the PYNQ
overlay's AXI DMA on the board, or the C-simulation stand-in (`standin.py`) anywhere g++ built it.
Packing and unpacking (layout.py) are the same for both, and the same as the RTL testbench's.
"""
from __future__ import annotations

import json
import os
import time
from pathlib import Path

import numpy as np

from .layout import Layout, pack, scores, unpack

MAX_TRANSFER = (1 << 26) - 1  # bytes per simple-mode DMA transfer (c_sg_length_width 26 in the block design)
BASE_TIMEOUT_S = 1.0  # per chunk: buffer set-up and register traffic on the board's ARM
FRAME_MARGIN = 10  # per frame: this many times the planned frame time at the build's clock
FALLBACK_FRAME_S = 0.1  # per frame when accel.json has no plan
TIMEOUT_ENV = "SQZFPGA_DMA_FRAME_TIMEOUT_S"  # overrides the per-frame deadline (a slow clock, a simulated board)


class DmaError(RuntimeError):
    """A DMA transfer that did not complete as the batch protocol (driver/layout.py) says it must."""


class PynqDma:
    """The bitstream loaded with PYNQ; input and output buffers in contiguous memory, reused while large enough.

    One chunk = one MM2S transfer of N frames and one S2MM transfer of N frames (TLAST once, at the end).
    PYNQ's `wait()` has no time limit, so the channels' `idle` is polled against a deadline first
    (`frame_timeout_s` per frame plus BASE_TIMEOUT_S; else $SQZFPGA_DMA_FRAME_TIMEOUT_S; else
    FRAME_MARGIN times the planned frame time), and the received length is checked. On a timeout, an
    error or a short length the DMA is reset (DMACR.Reset, then both channels started) and DmaError
    says what happened."""

    def __init__(self, folder: Path, meta: dict, frame_timeout_s: float | None = None):
        from pynq import Overlay, allocate  # only on the board

        self._allocate = allocate
        self.overlay = Overlay(str(folder / meta["bitstream"]))
        self.dma = getattr(self.overlay, meta["dma"])
        self._in = self._out = None
        self._frame_bytes = Layout.from_dict(meta["layout"]).out_bytes
        if frame_timeout_s is None and os.environ.get(TIMEOUT_ENV):
            frame_timeout_s = float(os.environ[TIMEOUT_ENV])
        if frame_timeout_s is None:
            cycles, mhz = meta.get("planned_cycles_per_frame"), meta.get("clock_mhz")
            frame_timeout_s = FRAME_MARGIN * cycles / (mhz * 1e6) if cycles and mhz else FALLBACK_FRAME_S
        self.frame_timeout_s = frame_timeout_s

    def transfer(self, data: np.ndarray, out_bytes: int) -> np.ndarray:
        frames = out_bytes // self._frame_bytes
        if self._in is None or self._in.shape[0] < data.size:
            self._in = self._allocate(shape=(data.size,), dtype=np.uint8)
        if self._out is None or self._out.shape[0] < out_bytes:
            self._out = self._allocate(shape=(out_bytes,), dtype=np.uint8)
        self._in[: data.size] = data
        self._in.flush()
        send, recv = self.dma.sendchannel, self.dma.recvchannel
        recv.transfer(self._out, nbytes=out_bytes)
        send.transfer(self._in, nbytes=data.size)
        timeout = BASE_TIMEOUT_S + frames * self.frame_timeout_s
        deadline = time.monotonic() + timeout
        while not (send.idle and recv.idle):
            if send.error or recv.error:
                break
            if time.monotonic() > deadline:
                got = self._received(recv)
                self.reset()
                raise DmaError(f"DMA transfer of {frames} frame(s) not complete after {timeout:.1f} s (MM2S "
                               f"{'done' if got is not None or send.idle else 'stalled'}, S2MM received "
                               f"{'nothing yet' if got is None else f'{got} of {out_bytes} bytes'}); the DMA was "
                               "reset. The accelerator stopped taking input or giving output: check that the "
                               "bitstream matches this package")
        try:
            send.wait()
            recv.wait()
        except RuntimeError as e:
            self.reset()
            raise DmaError(f"DMA error during a transfer of {frames} frame(s): {e}; the DMA was reset") from None
        if recv.transferred != out_bytes:
            self.reset()
            raise DmaError(f"DMA received {recv.transferred} of {out_bytes} bytes for {frames} frame(s) (TLAST "
                           "came early: the accelerator does not frame batches as driver/layout.py says); the "
                           "DMA was reset")
        self._out.invalidate()
        return np.array(self._out[:out_bytes])

    @staticmethod
    def _received(recv):
        """The bytes S2MM received when it has completed (its LENGTH register), else None."""
        if not recv.idle:
            return None
        recv.wait()
        return recv.transferred

    def reset(self) -> None:
        """Soft-reset the AXI DMA (PG021 DMACR.Reset, either channel resets both) and start both channels."""
        self.dma.mmio.write(0x00, 0x4)
        deadline = time.monotonic() + BASE_TIMEOUT_S
        while self.dma.mmio.read(0x00) & 0x4:
            if time.monotonic() > deadline:
                raise DmaError("the AXI DMA did not come out of its soft reset within "
                               f"{BASE_TIMEOUT_S} s; reload the overlay")
        self.dma.sendchannel.start()
        self.dma.recvchannel.start()


class Accelerator:
    def __init__(self, transport, layout: Layout, meta: dict):
        self.transport, self.layout, self.meta = transport, layout, meta
        self.fps = None  # frames per second of the last predict(), transfers only

    @classmethod
    def open(cls, folder, csim: bool = False, frame_timeout_s: float | None = None) -> "Accelerator":
        """The accelerator of a deployment folder: the bitstream through PYNQ, or with `csim` the
        C-simulation stand-in built with the package. `frame_timeout_s`: the DMA deadline per frame
        (PynqDma)."""
        folder = Path(folder)
        meta = json.loads((folder / "accel.json").read_text())
        if csim:
            from .standin import CsimStandin

            transport = CsimStandin(folder / meta["standin"])
        else:
            transport = PynqDma(folder, meta, frame_timeout_s)
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
