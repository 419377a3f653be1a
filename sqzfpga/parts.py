"""FPGA parts we target, with their resources (LUT, FF, BRAM36, URAM, DSP)."""
from __future__ import annotations

from dataclasses import dataclass

from sqzfpga.errors import UserError


@dataclass(frozen=True)
class Part:
    name: str
    device: str  # full part string for Vivado / Vitis
    lut: int
    ff: int
    bram36: int
    uram: int
    dsp: int

    def capacity(self) -> dict[str, int]:
        """The resources that synthesis reports and the planner budgets, by the names both use."""
        return {"lut": self.lut, "ff": self.ff, "bram36": self.bram36, "dsp": self.dsp}


PARTS = {p.name: p for p in [
    Part("xc7z010", "xc7z010clg400-1", 17_600, 35_200, 60, 0, 80),
    Part("xc7z020", "xc7z020clg400-1", 53_200, 106_400, 140, 0, 220),
    Part("xczu3eg", "xczu3eg-sbva484-1-e", 70_560, 141_120, 216, 0, 360),
    Part("xczu7ev", "xczu7ev-ffvc1156-2-e", 230_400, 460_800, 312, 96, 1_728),
    Part("xczu9eg", "xczu9eg-ffvb1156-2-e", 274_080, 548_160, 912, 0, 2_520),
    Part("xck26", "xck26-sfvc784-2LV-c", 117_120, 234_240, 144, 64, 1_248),
]}


def get_part(name: str) -> Part:
    key = name.lower()
    for part in PARTS.values():
        if key in (part.name, part.device.lower()):
            return part
    raise UserError(f"unknown part {name!r}; expected one of {', '.join(PARTS)}")
