"""The RTL plan's cycles per frame are what the simulated RTL takes, for a model of bursty stages: a
3x3/2 conv whose stride skips the image's last row, a 3x3/2 max pool emitting a row on every second
input row, a 1x1 conv, and a Dense layer over the flattened 6x6 map (a window as tall as the image,
that takes a frame before it computes). Line buffers too shallow for the next window's rows blocked
each window's input while it computed, and the bottleneck waited: this model simulated 2,221 cycles
per frame against 1,521 planned before rtl.rom.window_rows. 37 s of CPU (export, then the build to the RTL
simulation of 8 frames); 3 min wall on the 2 shared cores at load 12."""
from __future__ import annotations

import json

import pytest

from conftest import run_cli
from test_user_models import calibrated, export

torch = pytest.importorskip("torch")
nn = torch.nn


def bursty_model():
    """Raw pixels (28 x 28) -> QuantConv2d 3x3/2 (13 x 13 x 8) -> QuantReLU -> MaxPool 3/2 ceil (6 x 6)
    -> QuantConv2d 1x1 (16, 4-bit) -> QuantReLU -> flatten -> QuantLinear 576 -> 10 -> signed output."""
    from brevitas.nn import QuantConv2d, QuantIdentity, QuantLinear, QuantReLU
    from brevitas.quant import (Int8ActPerTensorFixedPoint, Int8BiasPerTensorFixedPointInternalScaling,
                                Int8WeightPerTensorFixedPoint, Uint8ActPerTensorFixedPoint)

    from sqzfpga.model.quant import RawPixelQuant

    class Int4Weight(Int8WeightPerTensorFixedPoint):
        bit_width = 4

    def layer(cls, *args, wq=Int8WeightPerTensorFixedPoint, **kw):
        return cls(*args, bias=True, weight_quant=wq, bias_quant=Int8BiasPerTensorFixedPointInternalScaling,
                   return_quant_tensor=True, **kw)

    def relu():
        return QuantReLU(act_quant=Uint8ActPerTensorFixedPoint, return_quant_tensor=True)

    class Net(nn.Module):
        def __init__(self):
            super().__init__()
            self.body = nn.Sequential(
                QuantIdentity(act_quant=RawPixelQuant, return_quant_tensor=True),
                layer(QuantConv2d, 1, 8, 3, stride=2), relu(), nn.MaxPool2d(3, 2, ceil_mode=True),
                layer(QuantConv2d, 8, 16, 1, wq=Int4Weight), relu(), nn.Flatten(),
                layer(QuantLinear, 6 * 6 * 16, 10), QuantIdentity(act_quant=Int8ActPerTensorFixedPoint))

        def forward(self, x):
            return self.body(x)

    return calibrated(Net)


def test_bursty_stages_simulate_their_plan(tmp_path):
    path = export(bursty_model(), tmp_path / "bursty.onnx")
    proc = run_cli("build", "--model", path, "--part", "xc7z020", "--out", tmp_path / "b", "--images", 8,
                   "--stop-step", "rtlsim", "--json")
    assert proc.returncode == 0, proc.stderr[-3000:]
    sim = json.loads((tmp_path / "b" / "rtlsim.json").read_text())
    assert sim["exact"] is True
    assert abs(sim["cycles_per_frame"] / sim["planned_cycles_per_frame"] - 1) <= 0.05, sim


def test_window_rows_hold_the_next_window():
    from sqzfpga.rtl.rom import line_rows, window_rows

    # stride-1 padded 3x3 (every conv and Fire expand of the default model), 1x1 over a column of pixels,
    # 2x2/2 pool: the rows they had, the next window's rows fit beside the current one's
    assert [window_rows(3, 1, 28, 28, 1), window_rows(1, 1, 196, 196, 0), window_rows(2, 2, 13, 7, 0)] == \
        [line_rows(3), line_rows(1), line_rows(2)] == [4, 2, 4]
    # 3x3/2 (rows 2y..2y+2 in use while 2y+3..2y+4 load: the default model's pools, 4 rows before), a stride
    # that skips the last row (13 x 13 out of 28), a pool whose next frame starts 5 rows on (7 -> 3), a
    # Dense over the whole 6 x 6 map (a frame ahead)
    assert [window_rows(3, 2, 28, 14, 0), window_rows(3, 2, 28, 13, 0), window_rows(3, 2, 7, 3, 0),
            window_rows(6, 1, 6, 1, 0)] == [8, 8, 8, 16]
