"""Frames/s at a clock something analysed: min(requested clock, the timing estimate's fmax).

Every frames/s figure (plan, rtlsim, build.json, the report, the throughput benchmark) is cycles per
frame divided into a clock. Once `timing` (rtl/timing.json) has estimated the design's fmax, that
clock is the requested one only where the estimate allows it; without an estimate the figure says
that its clock was not analysed. Batch-1 latency (first pixel in to last score out, rtlsim's
`latency_cycles`) is a separate figure at the same clock.
"""
from __future__ import annotations

import json
from dataclasses import asdict, dataclass
from pathlib import Path

ESTIMATED = "estimated fmax"  # the estimate is below the requested clock: the design runs at fmax
REQUESTED_BELOW_FMAX = "requested; fmax above it"
NOT_ANALYSED = "requested, not analysed"  # no timing estimate (not run, or a part the delay model lacks)


@dataclass(frozen=True)
class Rate:
    """A frame rate and the clock it is quoted at, with where that clock comes from."""
    requested_clock_mhz: float
    clock_mhz: float  # the clock used: min(requested, fmax) where fmax is estimated
    clock_source: str  # ESTIMATED, REQUESTED_BELOW_FMAX or NOT_ANALYSED
    fmax_mhz: float | None  # the timing estimate's, None when not analysed
    fps: float
    latency_us: float | None  # batch-1 latency at clock_mhz, None without a simulated latency

    def to_dict(self) -> dict:
        """The JSON fields, rounded as they are quoted."""
        d = asdict(self)
        d.update(fps=round(self.fps, 1), clock_mhz=round(self.clock_mhz, 1),
                 latency_us=None if self.latency_us is None else round(self.latency_us, 2))
        return d

    def note(self, unanalysed: str = "run `synth` or `timing` for an estimate") -> str:
        """Where the clock comes from, e.g. 'requested; the estimated fmax 146.5 MHz is above it'
        (`unanalysed`: why there is no estimate, or how to get one)."""
        if self.clock_source == ESTIMATED:
            return f"the estimated fmax; {self.requested_clock_mhz:g} MHz requested"
        if self.clock_source == REQUESTED_BELOW_FMAX:
            return f"requested; the estimated fmax {self.fmax_mhz:g} MHz is above it"
        return f"requested; clock not analysed: {unanalysed}"

    def describe(self) -> str:
        """'3,188.8 frames/s at 100 MHz (requested; ...), batch-1 latency 1,322.6 us' for log lines."""
        lat = "" if self.latency_us is None else f", batch-1 latency {self.latency_us:,.1f} us"
        return f"{self.fps:,.1f} frames/s at {self.clock_mhz:g} MHz ({self.note()}){lat}"


def rate(cycles_per_frame: float, latency_cycles: float | None, requested_mhz: float,
         timing: dict | None) -> Rate:
    """Frames/s and batch-1 latency at min(requested_mhz, timing's fmax_mhz); `timing` is rtl/timing.json's
    content, or None where nothing analysed the design (then the requested clock, marked so)."""
    fmax = None if timing is None else timing.get("fmax_mhz")
    if fmax is None:
        clock, source = requested_mhz, NOT_ANALYSED
    elif fmax < requested_mhz:
        clock, source = fmax, ESTIMATED
    else:
        clock, source = requested_mhz, REQUESTED_BELOW_FMAX
    return Rate(requested_mhz, clock, source, fmax, clock * 1e6 / cycles_per_frame,
                None if latency_cycles is None else latency_cycles / clock)


def read_timing(rtl: Path) -> dict | None:
    """rtl/timing.json (the `timing` estimate of this RTL; regenerating rtl/ removes it), or None."""
    path = Path(rtl) / "timing.json"
    return json.loads(path.read_text()) if path.exists() else None
