"""Helpers every layer's RTL uses: the line buffer's rows and memory, and one conv-like unit's SV
parameters with its weight and bias ROM files (the packing sqz_conv.sv / sqz_mac.sv read)."""
from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from sqzfpga.ir.arith import accum_frac, accum_width
from sqzfpga.ir.types import QType
from sqzfpga.rtl.cost import memories, rom_style, rom_width
from sqzfpga.rtl.unit import Unit


def line_rows(k: int) -> int:
    """Line-buffer rows: a power of two above K, so the next row loads while this one is used."""
    r = 2
    while r < k + 1:
        r *= 2
    return r


def window_rows(k: int, s: int, h: int, oh: int, pt: int) -> int:
    """Line-buffer rows of an RTL K x K / S window over H input rows (OH output rows, PT padding rows
    above): a power of two above K that holds, from the first row of the window being computed on,
    every row of the next window, its last included (the input's lead: a producer running at this
    window's rate, both the pipeline's bottleneck, never waits for a free row, and this window never
    waits for its last row). The next window is S rows on, or at a frame's end the next frame's first
    window: further on where a stride skips the image's last rows, a frame on for a window as tall as
    the image (a Dense layer). With fewer rows the window blocks its input while it computes, and a
    producer that is the bottleneck waits: a stall the planner's cycles per frame do not count
    (measured: 2,369 cycles per frame against 1,521 planned; 167 against 144)."""
    def first(oy: int) -> int:
        return max(0, oy * s - pt)

    def last(oy: int) -> int:
        return min(h - 1, oy * s - pt + k - 1)
    need = max([last(oy + 1) - first(oy) for oy in range(oh - 1)] + [h + last(0) - first(oh - 1)])
    r = line_rows(k)
    while r <= need:
        r *= 2
    return r


def pool_unit(name: str, geo, window) -> Unit:
    """A pooling layer's one unit (max or average: the same window schedule and line buffer)."""
    (h, w, c), (oh, ow, _) = geo.in_shape, geo.out_shape
    k = window.k
    return Unit(name, "pool", h * w, oh * ow, cin=c, taps=k * k, row_px=w,
                rows=window_rows(k, window.s, h, oh, window.pads[0]), ibits=geo.in_q.bits,
                obits=geo.out_q.bits)


def line_style(u: Unit) -> str:
    """"block" or "distributed": the line buffer's memory, as the cost model counts it (one rule)."""
    return memories(u)[0][2]


@dataclass
class ConvSpec:
    """One conv-like unit: input type, segments (weights, types, ReLU, kernel), output type."""
    unit: Unit
    xq: QType
    oq: QType
    segs: list = field(default_factory=list)  # dicts: w (F,K,K,C ints), wq, b, bq, relu, ks

    def __post_init__(self):
        u = self.unit
        u.wbits, u.ibits, u.obits = max(s["wq"].bits for s in self.segs), self.xq.bits, self.oq.bits

    def frac(self) -> int:
        return max(accum_frac(self.xq, s["wq"], s["bq"]) for s in self.segs)

    def scalars(self) -> dict:
        """The unit's arithmetic after planning (sqz_conv.sv's parameters; the HLS mac's config)."""
        u, xq, f = self.unit, self.xq, self.frac()
        wb = max(s["wq"].bits for s in self.segs)
        d = f - self.oq.frac
        accw = max(accum_width(xq, s["w"], s["wq"], s["b"], s["bq"], frac=f) for s in self.segs)
        accw = max(accw, wb + xq.bits + 2 + (u.pi - 1).bit_length(), d + 2)
        p = {"PI": u.pi, "PO": u.po, "WB": wb, "PACK": u.pack, "PACK_SHIFT": u.pack_shift, "LUTMUL": u.lutmul,
             "NSTEP": u.nstep, "ACCW": accw, "D": d,
             "PROD_SHIFT0": f - (self.segs[0]["wq"].frac + xq.frac), "RELU0": int(self.segs[0]["relu"])}
        if len(self.segs) > 1:
            p.update(PROD_SHIFT1=f - (self.segs[1]["wq"].frac + xq.frac), RELU1=int(self.segs[1]["relu"]))
        return p

    def entries(self) -> tuple[list[list[int]], list[list[int]]]:
        """(per step, its PO/PACK x PI ROM entries: a weight, or a packed pair (see sqz_mac); per output
        chunk, its PO biases at the accumulator's binary point): the one weight layout of both backends."""
        u, f = self.unit, self.frac()
        pi, po, nci = u.pi, u.po, u.cin // u.pi
        wb = max(s["wq"].bits for s in self.segs)
        steps, biases = [], []
        for s in self.segs:
            w, ks = s["w"], s["ks"]
            k = w.shape[1]
            off = (k - ks) // 2 if ks < k else 0
            b = s["b"] if s["b"] is not None else np.zeros(w.shape[0], dtype=np.int64)
            bsh = f - s["bq"].frac if s["b"] is not None else 0
            for co in range(w.shape[0] // po):
                biases.append([int(b[co * po + j]) << bsh for j in range(po)])
                for ky in range(ks):
                    for kx in range(ks):
                        for ci in range(nci):
                            tap = [[int(w[co * po + j, ky + off, kx + off, ci * pi + i]) for i in range(pi)]
                                   for j in range(po)]
                            if u.pack == 2:
                                steps.append([((hi - (lo < 0)) << wb) | (lo & ((1 << wb) - 1))
                                              for lows, highs in zip(tap[0::2], tap[1::2]) for lo, hi in zip(lows, highs)])
                            else:
                                steps.append([v for row in tap for v in row])
        assert len(steps) == u.nstep
        return steps, biases

    def params(self, folder: Path, stem: str) -> dict:
        """SV parameters of this unit after planning; writes its weight and bias ROM files."""
        u, p = self.unit, self.scalars()
        steps, biases = self.entries()
        ew = u.pack * p["WB"] + u.pack - 1  # bits per ROM entry: a weight, or a packed pair (see sqz_mac)
        wfile, bfile = f"{stem}_w.mem", f"{stem}_b.mem"
        write_mem(folder / wfile, [_pack(e, ew) for e in steps], rom_width(u))
        write_mem(folder / bfile, [_pack(b, p["ACCW"]) for b in biases], u.po * p["ACCW"])
        seg1 = {k: p.pop(k) for k in ("PROD_SHIFT1", "RELU1") if k in p}  # after the files, as ever (stable SV)
        return {**p, "WFILE": wfile, "BFILE": bfile, "WSTYLE": rom_style(u), **seg1}


def _pack(values: list[int], width: int) -> int:
    word, mask = 0, (1 << width) - 1
    for i, v in enumerate(values):
        word |= (v & mask) << (i * width)
    return word


def write_mem(path: Path, words: list[int], width: int) -> None:
    digits = max(1, (width + 3) // 4)
    path.write_text("".join(f"{w:0{digits}x}\n" for w in words))
