"""What Vitis HLS and Vivado instantiate for a stream FIFO or an array: its BRAM18, LUTs and flip-flops.

FIFOs (hls::stream), default binding (UG1399, "config_storage" / "Storage Configuration"):
  `config_storage fifo -impl autosrl` is the default; a FIFO is a shift register (SRL) when
  depth <= auto_srl_max_depth (default 2) or depth x width <= auto_srl_max_bits (default 1024),
  otherwise a RAM FIFO (impl `memory`). UG1399 lists both defaults but not how they combine; the
  rule "either one" is read from Vitis's own binding records (.autopilot `SynModuleInfo`, public
  projects): fifo_w1024_d2 and fifo_w512_d2 are srl (2048 and 1024 bits, depth 2), fifo_w16_d64 and
  fifo_w8_d64 are srl (1024 and 512 bits), fifo_w512_d4, fifo_w1024_d4, fifo_w64_d32, fifo_w132_d16
  are memory. (One record, fifo_w448_d4 as srl, contradicts it; its source may carry a pragma.)
  An explicit `#pragma HLS BIND_STORAGE variable=s type=fifo impl=srl|lutram|bram|memory` (UG1399,
  "pragma HLS bind_storage") replaces the default; the RTL module then ends in _S, _D, _B or _A.
What the RTL holds (Vitis HLS 2021.1 RTL, `fifo_w64_d320_B` and `fifo_w9_d8_S` modules):
  - SRL FIFO: `depth` register stages per bit, read at a dynamic address; control is mOutPtr
    (clog2(depth)+1 bits) and the full/empty flags. Vivado packs each bit into one SRLC32E per 32
    stages; the four LUTs of a SLICEM cascade to 128 stages through its F7/F8 muxes (UG474, "Shift
    Registers (SLICEM Only)"). A depth <= 2 FIFO stays in flip-flops plus a 2:1 read mux per bit (a
    Vivado report of a Vitis fifo_w5_d2: 10 data FFs, 0 SRLs, 5-6 LUTs); assumption: the cause is
    Vivado's synth_design -shreg_min_size, taken to default to 3.
  - RAM FIFO: a simple-dual-port RAM of depth-1 words (the module's RAM DEPTH is 319 for d320)
    with a registered output word, waddr/raddr/raddr_reg, mOutPtr and three flags. impl `bram` sets
    ram_style "block", `lutram` "distributed", `memory` "auto" (Vivado decides). Assumption for
    `memory`: Vivado keeps RAMs of <= 64 words in LUTRAM and moves deeper ones to block RAM (UG906
    UTIL-203: depths "significantly over 64" belong in block RAM; Vitis's FIFO reports show a 32-deep
    memory FIFO at 0 BRAM and a 128-deep one in BRAM).
Primitive costs (7 series, the same BRAM18 shapes on UltraScale+):
  - BRAM18: the fewest blocks over the aspect ratios of sqzfpga.parts.BRAM18_ASPECTS (512 x 36 is
    the simple-dual-port shape a FIFO and a ROM use).
  - LUTRAM (UG474, "Distributed RAM (SLICEM Only)", table of configurations): simple dual port is
    RAM32M (32 x 6, 4 LUTs) up to 32 words, RAM64M (64 x 3, 4 LUTs) per 64 words above that, banks
    joined by a LUT6 4:1 mux tree per bit. A ROM in LUTs is 1 LUT per bit per 64 words (ROM64X1;
    ROM128X1 and ROM256X1 join 2 and 4 LUTs through F7/F8), counted as logic LUTs.
  - registers: width x depth flip-flops; the read mux is left out (a fully partitioned array read
    at constant indices has none).
Control LUTs of a FIFO (pointer arithmetic, flags) are not counted: no source gives a figure.
"""
from __future__ import annotations

import math
from dataclasses import dataclass, fields

from sqzfpga.parts import BRAM18_ASPECTS

AUTO_SRL_MAX_BITS = 1024  # config_storage -auto_srl_max_bits default (UG1399)
AUTO_SRL_MAX_DEPTH = 2  # config_storage -auto_srl_max_depth default (UG1399)
SHREG_MIN_SIZE = 3  # assumption: Vivado's -shreg_min_size default; shallower SRLs stay in FFs
AUTO_LUTRAM_MAX_WORDS = 64  # assumption: ram_style "auto" keeps RAMs this shallow in LUTRAM
SRL_STAGES = 32  # SRLC32E
SLICE_LUTS = 4  # LUTs per SLICEM: SRLs and ROMs of up to 4 LUTs join through F7/F8 muxes
RAM32M_BITS, RAM64M_BITS, RAMXM_LUTS = 6, 3, 4  # simple dual port: 32 x 6 and 64 x 3 in 4 LUTs
ROM_WORDS = 64  # ROM64X1 per LUT

FIFO_IMPLS = ("srl", "lutram", "bram", "memory")  # BIND_STORAGE type=fifo impl values we model
MEMORY_IMPLS = ("bram", "lutram", "registers")  # BIND_STORAGE type=ram_*/rom_* impl values we model


@dataclass(frozen=True)
class Storage:
    """The resources one FIFO or array takes, by primitive."""
    impl: str  # the binding Vitis makes: srl / memory / lutram / bram / registers
    resource: str  # where the data bits land: ff / srl / lutram / bram / lut (a ROM in logic LUTs)
    bram18: int = 0
    lutram_luts: int = 0  # LUTs as distributed RAM (RAM32M / RAM64M)
    srl_luts: int = 0  # LUTs as shift registers (SRLC32E)
    logic_luts: int = 0  # read muxes and ROM LUTs
    ff: int = 0

    @property
    def luts(self) -> int:
        return self.lutram_luts + self.srl_luts + self.logic_luts


def total(items) -> Storage:
    """The sum of several Storage figures (impl and resource 'total')."""
    counts = {f.name: 0 for f in fields(Storage) if f.type == "int"}
    for s in items:
        for name in counts:
            counts[name] += getattr(s, name)
    return Storage("total", "total", **counts)


def bram18_blocks(width: int, depth: int) -> int:
    """BRAM18 blocks for a width x depth array: the best of the primitive's aspect ratios."""
    return min(math.ceil(width / w) * math.ceil(depth / d) for w, d in BRAM18_ASPECTS)


def _mux_tree(inputs: int) -> int:
    """LUT6 4:1 muxes per bit to pick one of `inputs` outputs (each mux cuts the count by 3)."""
    return math.ceil((inputs - 1) / 3) if inputs > 1 else 0


def _slice_mux(chunks: int) -> int:
    """Mux LUTs per bit beyond what a SLICEM's F7/F8 muxes give for free (up to 4 LUTs)."""
    return _mux_tree(math.ceil(chunks / SLICE_LUTS))


def _lutram(width: int, words: int) -> tuple[int, int]:
    """(LUTRAM LUTs, mux LUTs) of a simple-dual-port width x words distributed RAM."""
    if words <= 32:
        return math.ceil(width / RAM32M_BITS) * RAMXM_LUTS, 0
    banks = math.ceil(words / 64)
    return banks * math.ceil(width / RAM64M_BITS) * RAMXM_LUTS, width * _mux_tree(banks)


def _shape(width: int, depth: int) -> None:
    for name, v in (("width", width), ("depth", depth)):
        if not isinstance(v, int) or isinstance(v, bool) or v < 1:
            raise ValueError(f"{name} must be a positive integer, got {v!r}")


def _addr_bits(depth: int) -> int:
    return max(1, math.ceil(math.log2(depth)))


def fifo(width: int, depth: int, impl: str | None = None, *, srl_max_bits: int = AUTO_SRL_MAX_BITS,
         srl_max_depth: int = AUTO_SRL_MAX_DEPTH, lutram_max_words: int = AUTO_LUTRAM_MAX_WORDS) -> Storage:
    """What Vitis builds for an hls::stream of `width`-bit words, `depth` deep.

    impl None (or "auto") applies config_storage's default rule with the given limits; "srl",
    "lutram", "bram" or "memory" is an explicit BIND_STORAGE impl. lutram_max_words is the assumed
    depth up to which Vivado keeps a `memory` FIFO's RAM in LUTRAM (0: always BRAM).
    """
    _shape(width, depth)
    if impl in (None, "auto"):
        impl = "srl" if depth <= srl_max_depth or width * depth <= srl_max_bits else "memory"
    if impl not in FIFO_IMPLS:
        raise ValueError(f"unknown FIFO impl {impl!r}; expected one of {', '.join(FIFO_IMPLS)} or None")
    aw = _addr_bits(depth)
    if impl == "srl":
        control = aw + 3  # mOutPtr (aw + 1 bits), empty_n, full_n
        if depth < SHREG_MIN_SIZE:
            return Storage(impl, "ff", logic_luts=width if depth > 1 else 0, ff=width * depth + control)
        chunks = math.ceil(depth / SRL_STAGES)
        return Storage(impl, "srl", srl_luts=width * chunks, logic_luts=width * _slice_mux(chunks), ff=control)
    words = max(1, depth - 1)  # one word waits in the output register
    control = width + 4 * aw + 4  # dout, waddr/raddr/raddr_reg, mOutPtr (aw + 1), 3 flags
    resource = impl if impl != "memory" else ("lutram" if words <= lutram_max_words else "bram")
    if resource == "bram":
        return Storage(impl, resource, bram18=bram18_blocks(width, words), ff=control)
    ram, mux = _lutram(width, words)
    return Storage(impl, resource, lutram_luts=ram, logic_luts=mux, ff=control)


def memory(width: int, depth: int, impl: str, *, rom: bool = False) -> Storage:
    """An array (weights: rom=True; line buffers: a 1-write 1-read RAM) bound to BRAM, LUTRAM or registers."""
    _shape(width, depth)
    if impl not in MEMORY_IMPLS:
        raise ValueError(f"unknown memory impl {impl!r}; expected one of {', '.join(MEMORY_IMPLS)}")
    if impl == "bram":
        return Storage(impl, "bram", bram18=bram18_blocks(width, depth))
    if impl == "registers":
        return Storage(impl, "ff", ff=width * depth)
    if rom:
        chunks = math.ceil(depth / ROM_WORDS)
        return Storage(impl, "lut", logic_luts=width * (chunks + _slice_mux(chunks)))
    ram, mux = _lutram(width, depth)
    return Storage(impl, "lutram", lutram_luts=ram, logic_luts=mux)
