"""FPGA parts we target, with their resources (LUT, FF, BRAM36, URAM, DSP), and the facts of their family.

Every family-dependent choice (the DSP's wide port, Yosys's synth_xilinx family, the processing system
of the block design) reads a Family here, so a new family is one entry and a part of an unknown family
cannot be listed. BRAM18 aspect ratios are the same in both families (RAMB18E1 and RAMB18E2: 16K x 1
to 512 x 36): one constant here, read by the HLS fit estimate and the RTL cost model.
"""
from __future__ import annotations

from dataclasses import dataclass

from sqzfpga.errors import UserError

BRAM18_ASPECTS = ((1, 16384), (2, 8192), (4, 4096), (9, 2048), (18, 1024), (36, 512))  # (width, depth)
PS_KINDS = ("ps7", "zynqmp")  # the processing systems block_design.tcl.jinja has a branch for


@dataclass(frozen=True)
class Family:
    name: str
    dsp_port: int  # the DSP's wide multiplier input: 25 (DSP48E1, 25 x 18) or 27 (DSP48E2, 27 x 18)
    yosys: str  # Yosys synth_xilinx -family
    ps: str  # the processing system the block design instantiates, one of PS_KINDS

    def __post_init__(self):
        if self.ps not in PS_KINDS:
            raise ValueError(f"family {self.name}: unknown PS kind {self.ps!r}; expected one of {PS_KINDS}")


FAMILIES = {f.name: f for f in [
    Family("zynq7", dsp_port=25, yosys="xc7", ps="ps7"),  # Zynq-7000: DSP48E1, processing_system7
    Family("zynqmp", dsp_port=27, yosys="xcup", ps="zynqmp"),  # Zynq UltraScale+: DSP48E2, zynq_ultra_ps_e
]}


def get_family(name: str) -> Family:
    if name not in FAMILIES:
        raise UserError(f"unknown FPGA family {name!r}; expected one of {', '.join(FAMILIES)}")
    return FAMILIES[name]


@dataclass(frozen=True)
class Part:
    name: str
    device: str  # full part string for Vivado / Vitis
    family: Family
    lut: int
    ff: int
    bram36: int
    uram: int
    dsp: int
    lutram: int  # LUTs that can be distributed RAM or shift registers (SLICEM; Vivado's "LUT as Memory")

    def capacity(self) -> dict[str, int]:
        """The resources that synthesis reports and the planner budgets, by the names both use."""
        return {"lut": self.lut, "ff": self.ff, "bram36": self.bram36, "dsp": self.dsp}


_Z7, _ZU = get_family("zynq7"), get_family("zynqmp")
PARTS = {p.name: p for p in [
    Part("xc7z010", "xc7z010clg400-1", _Z7, 17_600, 35_200, 60, 0, 80, 6_000),
    Part("xc7z020", "xc7z020clg400-1", _Z7, 53_200, 106_400, 140, 0, 220, 17_400),
    Part("xczu3eg", "xczu3eg-sbva484-1-e", _ZU, 70_560, 141_120, 216, 0, 360, 28_800),
    Part("xczu7ev", "xczu7ev-ffvc1156-2-e", _ZU, 230_400, 460_800, 312, 96, 1_728, 101_760),
    Part("xczu9eg", "xczu9eg-ffvb1156-2-e", _ZU, 274_080, 548_160, 912, 0, 2_520, 144_000),
    Part("xck26", "xck26-sfvc784-2LV-c", _ZU, 117_120, 234_240, 144, 64, 1_248, 57_600),
]}


def get_part(name: str) -> Part:
    key = name.lower()
    for part in PARTS.values():
        if key in (part.name, part.device.lower()):
            return part
    raise UserError(f"unknown part {name!r}; expected one of {', '.join(PARTS)}")
