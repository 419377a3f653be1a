"""Cycle model of the generated HLS dataflow: every process is one loop pipelined at II=1, so a
process takes its loop's trip count in cycles per frame, and the DATAFLOW region runs at the rate of
its slowest process (frames overlap across processes, as in Vitis's task-level pipelining).

Trip counts are exact: the window generator's (`sqz::window` in templates/sqz_layers.h) is found by
running its loop's counters here, with the input always available and the output never blocked, the
steady state of a balanced pipeline; the other loops have fixed bounds. The same numbers go into the
kernels' LOOP_TRIPCOUNT pragmas.
"""
from __future__ import annotations

from dataclasses import dataclass
from functools import cache


@dataclass(frozen=True)
class Sweep:
    """The window generator's geometry: input H x W x C, a K x K window at stride S with top/left
    padding, output OH x OW, R line-buffer rows, input beats of BIN channels, NSTEP steps per output."""
    h: int
    w: int
    c: int
    k: int
    s: int
    pt: int
    pl: int
    oh: int
    ow: int
    r: int
    bin: int
    nstep: int


@cache
def window_trip(sw: Sweep) -> int:
    """Iterations of sqz::window's loop for one frame (the C++ loop, counter for counter). Cached: a
    plan asks for each layer's sweep several times, and one sweep is up to 400,000 iterations here."""
    beats_px = sw.c // sw.bin
    n_beats, n_steps = sw.h * sw.w * beats_px, sw.oh * sw.ow * sw.nstep
    k1, h1, w1 = sw.k - 1, sw.h - 1, sw.w - 1
    r, w, s, nstep, ow, pl = sw.r, sw.w, sw.s, sw.nstep, sw.ow, sw.pl  # locals: the loop is the hot path
    win_y, win_x, ox = -sw.pt, -sw.pl, 0
    # the window's last row and column and its first row in the input: they change only as it moves
    last_r, last_c, first_row = min(win_y + k1, h1), min(win_x + k1, w1), max(win_y, 0)
    step_px = 0                      # steps issued for the current output pixel
    in_row = in_col = in_beat = 0
    done_row = done_col = lag_row = lag_col = 0
    beats = steps = it = 0
    while steps < n_steps or beats < n_beats:
        it += 1
        arrived = done_row > last_r or (done_row == last_r and done_col > last_c)
        next_row, next_col = lag_row, lag_col
        done_row, done_col = lag_row, lag_col
        if beats < n_beats and (steps == n_steps or in_row < first_row + r):
            beats += 1
            in_beat += 1
            if in_beat == beats_px:
                in_beat = 0
                in_col += 1
                if in_col == w:
                    in_col, in_row = 0, in_row + 1
                next_row, next_col = in_row, in_col
        lag_row, lag_col = next_row, next_col
        if steps < n_steps and arrived:
            steps += 1
            step_px += 1
            if step_px == nstep:
                step_px = 0
                win_x += s
                ox += 1
                if ox == ow:
                    ox, win_x, win_y = 0, -pl, win_y + s
                last_r, last_c, first_row = min(win_y + k1, h1), min(win_x + k1, w1), max(win_y, 0)
    return it


@dataclass(frozen=True)
class Process:
    """One process of the dataflow: its name and its loop's iterations per frame."""
    name: str
    trip: int


def interval(processes: list[Process]) -> tuple[int, str]:
    """Cycles per frame of the dataflow (the slowest process) and that process's name."""
    slow = max(processes, key=lambda p: p.trip)
    return slow.trip, slow.name


@dataclass(frozen=True)
class Dataflow:
    """A layer's HLS processes and the FIFOs between them (bits per beat, depth in beats)."""
    processes: list[Process]
    streams: list[tuple[int, int]]
