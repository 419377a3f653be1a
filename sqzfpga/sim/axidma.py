"""AXI DMA in simple (direct register) mode, as PG021 (AXI DMA v7.1) documents it, for the RTL simulation.

Registers (offsets from the DMA's base; S2MM's are MM2S's + 0x30): DMACR 0x00 (RS bit 0, Reset bit 2,
IOC_IrqEn bit 12, ...), DMASR 0x04 (Halted 0, Idle 1, DMAIntErr 4, DMASlvErr 5, DMADecErr 6, IOC_Irq 12,
Err_Irq 14; the Irq bits are write-1-to-clear), SA/DA 0x18/0x1C, LENGTH 0x28. Behaviour modelled:
- RS=1 leaves Halted; Idle stays 0 until the first transfer completes. RS=0 halts and aborts.
- Writing a non-zero LENGTH starts a transfer; while halted the write has no effect (PG021's note on
  DMASR.Halted). Writing it while a transfer is in flight is undefined in PG021; the model flags
  DMAIntErr and halts, so a driver that does it fails loudly.
- Each channel's stream is `bits` wide (c_m_axis_mm2s_tdata_width, c_s_axis_s2mm_tdata_width: 8 to
  1024), a beat of B = bits / 8 bytes, little-endian (the lowest address in TDATA[7:0]).
- MM2S reads LENGTH bytes from memory and sends them B bytes per beat, TLAST on the last beat; when
  LENGTH is not a multiple of B the last beat is partial: TKEEP has its low LENGTH mod B bits set
  (PG021: TKEEP marks the valid bytes of the last beat). A sink without TKEEP takes every byte of
  every beat (AXI4-Stream: an absent TKEEP is all ones), so `mm2s_stream` connected to such a sink
  refuses to send a partial beat: it reports the fault (the null bytes would be taken as data).
- S2MM stores the bytes its beat's TKEEP marks (all of them for a sink of a source without TKEEP);
  only the last beat (TLAST) may be partial, its kept bytes the low ones. It completes at TLAST,
  writes the received byte count back into S2MM_LENGTH and sets Idle and IOC_Irq. A packet longer
  than LENGTH (a beat with more bytes than LENGTH has room for, or LENGTH reached without TLAST) is
  DMAIntErr (PG021 S2MM_DMASR, direct register mode) and halts; so is a partial TKEEP before the
  last beat (which PG021 does not allow). After either, the channel takes nothing until re-armed: a
  stream that keeps sending is back-pressured (tready low).
- An address range outside the allocated buffers is DMADecErr (on the board it would be a decode
  error or silently someone else's memory); errors halt the channel, set Err_Irq and stay until a reset.
- DMACR.Reset on either channel resets the whole core (all registers to their defaults).
The register model is plain Python (unit-testable); `mm2s_stream`/`s2mm_stream` connect it to cocotb.
"""
from __future__ import annotations

import numpy as np

DMACR, DMASR, ADDR, ADDR_MSB, LENGTH = 0x00, 0x04, 0x18, 0x1C, 0x28
S2MM = 0x30  # offset of the S2MM registers
RS, RESET = 1 << 0, 1 << 2
HALTED, IDLE, INT_ERR, SLV_ERR, DEC_ERR, IOC_IRQ, DLY_IRQ, ERR_IRQ = (1 << 0, 1 << 1, 1 << 4, 1 << 5, 1 << 6,
                                                                      1 << 12, 1 << 13, 1 << 14)
DMACR_DEFAULT = 0x00010000  # IRQThreshold 1


class Memory:
    """The physical memory the DMA reaches: only buffers handed out by `allocate` exist."""

    def __init__(self, base: int = 0x1600_0000):
        self._next = base
        self.regions: dict[int, np.ndarray] = {}

    def allocate(self, nbytes: int) -> tuple[int, np.ndarray]:
        """A new page-aligned buffer: (physical address, its bytes)."""
        addr = self._next
        self._next += max(4096, -(-nbytes // 4096) * 4096)
        self.regions[addr] = np.zeros(max(nbytes, 1), dtype=np.uint8)
        return addr, self.regions[addr]

    def free(self, addr: int) -> None:
        self.regions.pop(addr, None)

    def view(self, addr: int, nbytes: int) -> np.ndarray | None:
        """The bytes [addr, addr + nbytes) when one buffer holds them all, else None (decode error)."""
        for base, mem in self.regions.items():
            if base <= addr and addr + nbytes <= base + mem.size:
                return mem[addr - base: addr - base + nbytes]
        return None


class Channel:
    """One direction's registers and transfer state; its stream `bits` wide."""

    def __init__(self, name: str, memory: Memory, length_bits: int, bits: int = 32):
        if bits not in (8, 16, 32, 64, 128, 256, 512, 1024):
            raise ValueError(f"{name} stream width {bits}: PG021 allows 8, 16, 32, 64, 128, 256, 512 or 1024 bits")
        self.name, self.memory, self.mask = name, memory, (1 << length_bits) - 1
        self.beat_bytes = bits // 8
        self.transfers = self.beats = 0  # transfers started and beats moved since the model was made
        self.on_start = self.on_abort = None  # callbacks of the stream side
        self.reset()

    def reset(self) -> None:
        self.dmacr, self.dmasr, self.addr, self.length = DMACR_DEFAULT, HALTED, 0, 0
        self._abort()

    def _abort(self) -> None:
        self.buf, self.pos = None, 0
        if self.on_abort:
            self.on_abort()

    @property
    def active(self) -> bool:
        return self.buf is not None

    def read(self, off: int) -> int:
        return {DMACR: self.dmacr, DMASR: self.dmasr, ADDR: self.addr & 0xFFFFFFFF, ADDR_MSB: self.addr >> 32,
                LENGTH: self.length}.get(off, 0)

    def write(self, off: int, value: int) -> None:
        if off == DMACR:
            self.dmacr = value & ~RESET
            if value & RS and not self.dmasr & (INT_ERR | SLV_ERR | DEC_ERR):
                self.dmasr &= ~HALTED
            else:
                self.dmacr &= ~RS
                self.dmasr = (self.dmasr | HALTED) & ~IDLE
                self._abort()
        elif off == DMASR:
            self.dmasr &= ~(value & (IOC_IRQ | DLY_IRQ | ERR_IRQ))
        elif off == ADDR:
            self.addr = (self.addr & ~0xFFFFFFFF) | (value & 0xFFFFFFFF)
        elif off == ADDR_MSB:
            self.addr = (self.addr & 0xFFFFFFFF) | ((value & 0xFFFFFFFF) << 32)
        elif off == LENGTH:
            self._start(value & self.mask)

    def _start(self, n: int) -> None:
        if n == 0 or self.dmasr & HALTED:
            return  # PG021: a LENGTH write while halted has no effect
        if self.active:
            return self._error(INT_ERR)
        view = self.memory.view(self.addr, n)
        if view is None:
            return self._error(DEC_ERR)
        self.length, self.buf, self.pos = n, view, 0
        self.dmasr &= ~IDLE
        self.transfers += 1
        if self.on_start:
            self.on_start()

    def _error(self, bit: int) -> None:
        self.dmasr = (self.dmasr | bit | ERR_IRQ | HALTED) & ~IDLE
        self.dmacr &= ~RS
        self._abort()

    def _complete(self, nbytes: int) -> None:
        self.length = nbytes
        self.buf, self.pos = None, 0
        self.dmasr |= IDLE | IOC_IRQ


class Mm2s(Channel):
    def beat(self) -> tuple[int, bool] | None:
        """The beat on the stream now: (TDATA, TLAST), or None when no transfer is running."""
        if not self.active:
            return None
        n = min(self.beat_bytes, self.length - self.pos)
        return int.from_bytes(self.buf[self.pos:self.pos + n].tobytes(), "little"), self.pos + n == self.length

    def keep(self) -> int:
        """The TKEEP of the beat on the stream now: the low bits of its bytes (all but a partial last beat)."""
        return (1 << min(self.beat_bytes, self.length - self.pos)) - 1

    def take(self) -> None:
        """The stream took the current beat."""
        self.pos = min(self.pos + self.beat_bytes, self.length)
        self.beats += 1
        if self.pos == self.length:
            self._complete(self.length)


class S2mm(Channel):
    def put(self, data: int, last: bool, keep: int | None = None) -> None:
        """Store one beat (little-endian), the bytes TKEEP marks (None: all); TLAST completes the transfer."""
        full = (1 << self.beat_bytes) - 1
        keep = full if keep is None else keep & full
        n = keep.bit_length()
        self.beats += 1
        if keep != (1 << n) - 1 or (not last and keep != full):
            return self._error(INT_ERR)  # TKEEP with holes, or a partial beat before TLAST
        if n > self.length - self.pos:
            return self._error(INT_ERR)  # the packet is longer than the buffer
        self.buf[self.pos:self.pos + n] = np.frombuffer(int(data).to_bytes(self.beat_bytes, "little"), np.uint8)[:n]
        self.pos += n
        if last:
            self._complete(self.pos)
        elif self.pos >= self.length:
            self._error(INT_ERR)  # LENGTH reached without TLAST: the packet is longer than the buffer


class AxiDma:
    """Both channels behind one AXI-Lite register space; stream widths as the block design sets them."""

    def __init__(self, memory: Memory, length_bits: int = 26, mm2s_bits: int = 8, s2mm_bits: int = 32):
        self.memory = memory
        self.mm2s = Mm2s("MM2S", memory, length_bits, mm2s_bits)
        self.s2mm = S2mm("S2MM", memory, length_bits, s2mm_bits)

    def _channel(self, off: int) -> tuple[Channel, int]:
        return (self.s2mm, off - S2MM) if off >= S2MM else (self.mm2s, off)

    def read(self, off: int) -> int:
        ch, o = self._channel(off)
        return ch.read(o)

    def write(self, off: int, value: int) -> None:
        ch, o = self._channel(off)
        if o == DMACR and value & RESET:  # either channel's Reset resets the whole core
            self.mm2s.reset()
            self.s2mm.reset()
            return
        ch.write(o, value)


# ---- the stream side in cocotb -----------------------------------------------------------------------

async def mm2s_stream(ch: Mm2s, clk, valid, ready, data, last, keep=None, fault=None) -> None:
    """Drive the accelerator's s_axis from the MM2S channel, forever (start it with cocotb.start_soon).
    `keep`: the sink's TKEEP, or None where it has none; then a partial beat is not sent: `fault` gets
    one sentence (the null bytes would be taken as data) and the stream stops."""
    from cocotb.triggers import Event, First, ReadOnly, RisingEdge

    started, aborted = Event(), Event()
    ch.on_start, ch.on_abort = started.set, aborted.set
    valid.value = 0
    full = (1 << ch.beat_bytes) - 1
    while True:
        beat = ch.beat()
        if beat is None:
            valid.value = 0
            started.clear()
            await started.wait()
            continue
        if keep is None and ch.keep() != full:
            valid.value = 0
            fault(f"MM2S: a transfer of {ch.length} bytes ends in a partial {8 * ch.beat_bytes}-bit beat (TKEEP "
                  f"{ch.keep():#x}, {ch.length % ch.beat_bytes} of {ch.beat_bytes} bytes) and s_axis has no TKEEP: "
                  "the accelerator would take the null bytes as data; driver/layout.py pads every frame to whole "
                  "beats, so the buffer was not packed by it")
            return
        aborted.clear()
        valid.value, data.value, last.value = 1, beat[0], int(beat[1])
        if keep is not None:
            keep.value = ch.keep()
        await ReadOnly()
        if ready.value == 1:
            await RisingEdge(clk)
            if not aborted.is_set():
                ch.take()
        else:
            await First(RisingEdge(ready), aborted.wait())


async def s2mm_stream(ch: S2mm, clk, valid, ready, data, last, stamps: list | None = None,
                      stamp_bytes: int = 0) -> None:
    """Take the accelerator's m_axis into the S2MM channel, forever; tready low unless armed. `stamps`
    gets the simulated time (ns) whenever the received count reaches a multiple of `stamp_bytes`."""
    from cocotb.triggers import Event, First, ReadOnly, RisingEdge
    from cocotb.utils import get_sim_time

    started, aborted = Event(), Event()
    ch.on_start, ch.on_abort = started.set, aborted.set
    ready.value = 0
    while True:
        if not ch.active:
            ready.value = 0
            started.clear()
            await started.wait()
            continue
        aborted.clear()
        ready.value = 1
        await ReadOnly()
        if valid.value == 1:
            word, tlast = int(data.value), last.value == 1
            await RisingEdge(clk)
            if not aborted.is_set():
                ch.put(word, tlast)
                if stamps is not None and stamp_bytes and ch.beats * ch.beat_bytes % stamp_bytes == 0:
                    stamps.append(get_sim_time("ns"))
        else:
            await First(RisingEdge(valid), aborted.wait())
