"""A `pynq` module for the RTL simulation: the part of PYNQ 3.0's API the driver uses, over the AXI DMA
model (axidma.py) connected to the simulated accelerator, so that driver/driver.py runs unchanged.

Modelled from PYNQ's documentation and `pynq/lib/dma.py` (3.0.1): `Overlay(bitfile)` with the block
design's IP as attributes; `allocate(shape, dtype)` -> a `PynqBuffer` (ndarray) with `physical_address`,
`flush()`, `invalidate()`, `freebuffer()` (non-cacheable as PYNQ's default, so flush/invalidate move
nothing); the DMA's `mmio` (read/write) and `sendchannel`/`recvchannel` (`transfer(array, start=0,
nbytes=0)`, `wait()` polling DMASR without a time limit, `idle`, `running`, `error`, `transferred`,
`start()`, `stop()`), with the same checks and register writes as PYNQ's simple-mode channel.
The real `pynq` 3.0.1 cannot be imported here: its dependency pynqutils pins numpy<2 (this project
uses numpy 2), and `pynq.lib.pynqmicroblaze` needs pycparser<3 (`pycparser.plyparser`).

Inside the simulation process only: `install(design)` puts this module in sys.modules as `pynq`.
The driver then runs in a cocotb bridge thread; every register access is a `resume` into the
simulation that costs MMIO_CYCLES clock cycles, so a polling `wait()` advances simulated time.
"""
from __future__ import annotations

import re
import sys
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from sqzfpga.errors import UserError
from sqzfpga.sim import axidma

MMIO_CYCLES = 100  # one register access from Python on the Zynq-7000's ARM through the GP port: ~1 us at 100 MHz


@dataclass
class Design:
    """What a bitstream holds here: its file name, the block design's DMA instance name and model, the clock."""
    bitstream: str
    dma_name: str
    dma: axidma.AxiDma
    clk: object
    period_ns: float
    max_size: int


_design: Design | None = None


def install(design: Design) -> None:
    """Make `import pynq` in this process give this module, serving `design`."""
    global _design
    _design = design
    sys.modules["pynq"] = sys.modules[__name__]


def dma_instance(block_design_tcl: Path) -> tuple[str, int]:
    """(instance name, c_sg_length_width) of the AXI DMA in the build's block design script: what
    PYNQ would read from the .hwh that Vivado writes from it."""
    text = block_design_tcl.read_text()
    m = re.search(r"create_bd_cell\s+-type\s+ip\s+-vlnv\s+(?:\[[^\]]*axi_dma[^\]]*\]|\S*axi_dma\S*)\s+(\w+)", text)
    w = re.search(r"c_sg_length_width\s+\{(\d+)\}", text)
    if not m:
        raise UserError(f"{block_design_tcl}: no AXI DMA cell (create_bd_cell ... axi_dma NAME); regenerate the "
                        "build's Vivado scripts")
    return m.group(1), int(w.group(1)) if w else 14


class PynqBuffer(np.ndarray):
    """A contiguous buffer in the simulated physical memory."""
    physical_address: int

    def flush(self) -> None:
        """Non-cacheable (PYNQ's default): nothing to write back."""

    def invalidate(self) -> None:
        """Non-cacheable (PYNQ's default): nothing to drop."""

    def freebuffer(self) -> None:
        _design.dma.memory.free(self.physical_address)

    @property
    def device_address(self) -> int:
        return self.physical_address


def allocate(shape, dtype="u4", target=None, **kwargs) -> PynqBuffer:
    dtype = np.dtype(dtype)
    nbytes = int(np.prod(shape)) * dtype.itemsize
    addr, mem = _design.dma.memory.allocate(nbytes)
    buf = mem[:nbytes].view(dtype).reshape(shape).view(PynqBuffer)
    buf.physical_address = addr
    return buf


class MMIO:
    """The DMA's AXI-Lite register space; each access costs MMIO_CYCLES simulated cycles."""

    def __init__(self, dma: axidma.AxiDma, clk, period_ns: float):
        from cocotb.task import resume
        from cocotb.triggers import RisingEdge, Timer

        async def access(off, value):
            await Timer(MMIO_CYCLES * period_ns, unit="ns")  # one wake-up, not one per cycle
            await RisingEdge(clk)
            if value is None:
                return dma.read(off)
            dma.write(off, value)
        self._access = resume(access)

    def read(self, offset: int = 0, length: int = 4) -> int:
        return self._access(offset, None)

    def write(self, offset: int, data: int) -> None:
        self._access(offset, int(data))


class _Channel:
    """One simple-mode channel as PYNQ's `_SDMAChannel` drives it."""

    def __init__(self, mmio: MMIO, offset: int, max_size: int, align: int, send: bool):
        self._mmio, self._offset, self._max_size, self._align, self._send = mmio, offset, max_size, align, send
        self._buffer, self._first_transfer = None, True
        self.transferred = 0
        self.start()

    def _status(self) -> int:
        return self._mmio.read(self._offset + axidma.DMASR)

    @property
    def running(self) -> bool:
        return not self._status() & axidma.HALTED

    @property
    def idle(self) -> bool:
        return bool(self._status() & axidma.IDLE)

    @property
    def error(self) -> bool:
        return bool(self._status() & (axidma.INT_ERR | axidma.SLV_ERR | axidma.DEC_ERR))

    def start(self) -> None:
        self._mmio.write(self._offset + axidma.DMACR, axidma.RS)
        while not self.running:
            pass
        self._first_transfer = True

    def stop(self) -> None:
        self._mmio.write(self._offset + axidma.DMACR, 0)
        while self.running:
            pass

    def transfer(self, array, start: int = 0, nbytes: int = 0) -> None:
        if not self.running:
            raise RuntimeError("DMA channel not started")
        if not self._first_transfer and not self.idle:
            raise RuntimeError("DMA channel not idle")
        nbytes = nbytes or array.nbytes - start
        if nbytes > self._max_size:
            raise ValueError(f"Transfer size is {nbytes} bytes, which exceeds the maximum DMA buffer size "
                             f"{self._max_size}.")
        addr = array.physical_address + start
        if addr % self._align:
            raise RuntimeError(f"DMA does not support unaligned transfers; Starting address must be aligned to "
                               f"{self._align} bytes.")
        if self._send:
            array.flush()
        self.transferred = 0
        self._mmio.write(self._offset + axidma.ADDR, addr & 0xFFFFFFFF)
        self._mmio.write(self._offset + axidma.ADDR_MSB, addr >> 32)
        self._mmio.write(self._offset + axidma.LENGTH, nbytes)
        self._buffer, self._first_transfer = array, False

    def wait(self) -> None:
        if not self.running:
            raise RuntimeError("DMA channel not started")
        while True:
            sr = self._status()
            if sr & axidma.INT_ERR:
                raise RuntimeError("DMA Internal Error (transfer length 0?)")
            if sr & axidma.SLV_ERR:
                raise RuntimeError("DMA Slave Error (cannot access memory map interface)")
            if sr & axidma.DEC_ERR:
                raise RuntimeError("DMA Decode Error (invalid address)")
            if sr & axidma.IDLE:
                break
        if not self._send:
            self._buffer.invalidate()
        self.transferred = self._mmio.read(self._offset + axidma.LENGTH)


class DMA:
    """The AXI DMA IP of the overlay (simple mode, MM2S and S2MM). PYNQ aligns a channel's buffers to its
    memory-mapped data width, which the block design makes max(32 bits, the stream's width)."""

    def __init__(self, design: Design):
        self.mmio = MMIO(design.dma, design.clk, design.period_ns)
        self.buffer_max_size = design.max_size
        self.sendchannel = _Channel(self.mmio, 0, design.max_size, max(4, design.dma.mm2s.beat_bytes), send=True)
        self.recvchannel = _Channel(self.mmio, axidma.S2MM, design.max_size, 4, send=False)


class Overlay:
    """`Overlay(bitfile)`: the simulated design stands for the deployment's bitstream of that name."""

    def __init__(self, bitfile: str, download: bool = True, **kwargs):
        if _design is None or Path(bitfile).name != _design.bitstream:
            held = _design.bitstream if _design else "nothing"
            raise OSError(f"{bitfile}: this simulation holds the design of {held}")
        self.bitfile_name = str(bitfile)
        self.ip_dict = {_design.dma_name: {"type": "xilinx.com:ip:axi_dma:7.1"}}
        self._dma = None

    def __getattr__(self, name):
        if _design is not None and name == _design.dma_name:
            if self.__dict__.get("_dma") is None:
                self.__dict__["_dma"] = DMA(_design)
            return self.__dict__["_dma"]
        raise AttributeError(f"overlay has no IP named {name!r} (it has {_design.dma_name!r})")
