"""The accelerator's DMA byte layout and batch protocol, the one contract between host and fabric
(HLS and RTL tops alike; their header comments point here).

Input stream (the DMA's MM2S channel into the accelerator's `s_axis`): one byte per input value, each
image in raster order with channels last (row 0 pixel 0 channel 0, channel 1, ...). TDATA is
`stream_bits` wide (a build option, STREAM_BITS; 8 unless the input limits the rate: rtl/plan.py),
a beat of B = stream_bits / 8 bytes, packed little-endian: the buffer's byte k goes in TDATA bits
[8(k mod B) + 7 : 8(k mod B)]. Each image is padded with zero bytes to whole beats (`Layout.in_bytes`
is the padded size), so a frame starts at a beat boundary, every beat the DMA sends is whole (TKEEP
all ones: the accelerator's s_axis has no TKEEP) and the accelerator finds frame boundaries by
counting beats; it drops the padding. At 8 bits nothing is padded: the layout of earlier packages.
The RTL top's input adapter turns a beat into pixels at up to one pixel per cycle; the HLS top takes
the same beats but one input value per cycle (its input rate is the 8-bit one at every width).

Output stream (`m_axis` into the DMA's S2MM channel): 32-bit TDATA at every input width (the outputs
are a few words per frame, never the bottleneck), one word per class score (per output value, raster
order, channels last), the score's raw fixed-point integer sign-extended (zero-extended when
unsigned) to 32 bits, stored little-endian. A score's real value is raw / 2**frac.

Batch protocol (TLAST), as AXI DMA simple mode (PG021) needs it: an S2MM transfer completes at the
first TLAST (or at its LENGTH) and then accepts nothing until re-armed, while MM2S raises TLAST on the
last beat of its transfer. So: the TLAST that comes with a frame's LAST beat (its last byte at 8 bits)
marks that frame as the last of the batch (a TLAST on any other beat is ignored), and the output raises
TLAST only on the last word of a frame so marked. One MM2S transfer of N whole frames in -> exactly one
S2MM transfer of N frames out, TLAST once, on its final word, and the received length tells the driver
that all N came.
The driver splits a batch into chunks under the DMA's transfer-length limit, one transfer per
direction per chunk. (hls4ml's VivadoAccelerator axi_stream top does the same; a frame-count register
would need an AXI-Lite slave in both tops.) The RTL carries the per-frame flag from the input adapter
to the output adapter through a small FIFO; the HLS top through an hls::stream<bool> beside the network.

Plain numpy only: this module runs on the board (inside the deployment package), in the RTL
simulation harness and in the C-simulation stand-in, so all three use the same packing code.
"""
from __future__ import annotations

from dataclasses import asdict, dataclass

import numpy as np

STREAM_BITS = (8, 32, 64, 128)  # input TDATA widths (AXI DMA MM2S stream widths, PG021) a build may use
IN_BEAT_BITS = 8  # the default, and the layout of packages that do not name a width
OUT_BEAT_BITS = 32


@dataclass(frozen=True)
class Layout:
    channels: int
    height: int
    width: int
    out_words: int
    out_bits: int
    out_frac: int
    out_signed: bool
    stream_bits: int = IN_BEAT_BITS

    def __post_init__(self):
        if self.stream_bits not in STREAM_BITS:
            raise ValueError(f"stream_bits {self.stream_bits}: expected one of {', '.join(map(str, STREAM_BITS))}")

    @property
    def beat_bytes(self) -> int:
        """Bytes per input beat."""
        return self.stream_bits // 8

    @property
    def in_values(self) -> int:
        """Input values (bytes) per image, without padding."""
        return self.channels * self.height * self.width

    @property
    def in_beats(self) -> int:
        """Input beats per image."""
        return -(-self.in_values // self.beat_bytes)

    @property
    def in_bytes(self) -> int:
        """Bytes per image in the input buffer (padded to whole beats)."""
        return self.in_beats * self.beat_bytes

    @property
    def out_bytes(self) -> int:
        """Bytes per frame in the output buffer."""
        return self.out_words * OUT_BEAT_BITS // 8

    def to_dict(self) -> dict:
        """The fields; `stream_bits` only when it is not 8 (so 8-bit packages read as before)."""
        d = asdict(self)
        if self.stream_bits == IN_BEAT_BITS:
            del d["stream_bits"]
        return d

    @classmethod
    def from_dict(cls, d: dict) -> "Layout":
        return cls(**{k: d[k] for k in cls.__dataclass_fields__ if k in d})


def raster(images: np.ndarray) -> np.ndarray:
    """N x C x H x W -> N x (H*W*C): each image in stream order (raster, channels last)."""
    images = np.asarray(images)
    return np.ascontiguousarray(images.transpose(0, 2, 3, 1)).reshape(len(images), -1)


def pack(images: np.ndarray, layout: Layout) -> np.ndarray:
    """uint8 images N x C x H x W -> the input DMA buffer (uint8, N * in_bytes: each image padded with
    zeros to whole beats)."""
    images = np.asarray(images)
    want = (layout.channels, layout.height, layout.width)
    if images.ndim != 4 or images.shape[1:] != want or images.dtype != np.uint8:
        raise ValueError(f"images: expected uint8 N x {' x '.join(map(str, want))}, got {images.dtype} "
                         f"{' x '.join(map(str, images.shape))}")
    flat = raster(images)
    pad = layout.in_bytes - layout.in_values
    if pad:
        flat = np.concatenate([flat, np.zeros((len(flat), pad), np.uint8)], axis=1)
    return flat.reshape(-1)


def beats(buf: np.ndarray, stream_bits: int) -> list[int]:
    """An input buffer (uint8, a whole number of beats) -> its beats as the MM2S channel sends them
    (little-endian, TDATA as an integer)."""
    b = stream_bits // 8
    buf = np.asarray(buf, dtype=np.uint8)
    if buf.size % b:
        raise ValueError(f"a buffer of {buf.size} bytes is not whole {stream_bits}-bit beats")
    return [int.from_bytes(row.tobytes(), "little") for row in buf.reshape(-1, b)]


def unpack(buf, frames: int, layout: Layout) -> np.ndarray:
    """The output DMA buffer (bytes-like or uint8 array) -> raw scores, int64 frames x out_words."""
    raw = np.frombuffer(memoryview(np.ascontiguousarray(buf)).cast("B"), dtype="<u4",
                        count=frames * layout.out_words)
    words = raw.astype(np.int64)
    if layout.out_signed:
        words = np.where(words >= 1 << 31, words - (1 << 32), words)
    return words.reshape(frames, layout.out_words)


def words(raw: np.ndarray) -> np.ndarray:
    """Raw scores -> the output buffer's little-endian 32-bit words (what the S2MM DMA writes)."""
    return (np.asarray(raw, dtype=np.int64) & 0xFFFFFFFF).astype("<u4")


def to_raw(values: np.ndarray, frac: int) -> np.ndarray:
    """Fixed-point values (floats) -> their raw integers at `frac` fractional bits (exact for dyadic values)."""
    return np.rint(np.asarray(values, dtype=np.float64) * 2.0 ** frac).astype(np.int64)


def scores(raw: np.ndarray, layout: Layout) -> np.ndarray:
    """Raw scores -> real values."""
    return np.asarray(raw, dtype=np.float64) / 2.0 ** layout.out_frac
