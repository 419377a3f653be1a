"""The Pareto front of a sweep: the trials that fit their part and that no other fitting trial beats on
accuracy and frames/s at once (at least as good on both, better on one)."""
from __future__ import annotations

from sqzfpga.sweep.trial import TrialResult


def dominates(a: TrialResult, b: TrialResult) -> bool:
    return a.accuracy >= b.accuracy and a.fps >= b.fps and (a.accuracy > b.accuracy or a.fps > b.fps)


def front(results: list[TrialResult]) -> list[TrialResult]:
    """The non-dominated fitting trials, fastest first (a trial that does not fit is never on it)."""
    fitting = [r for r in results if r.fits and r.fps is not None]
    return sorted((r for r in fitting if not any(dominates(o, r) for o in fitting)),
                  key=lambda r: (-r.fps, -r.accuracy, r.trial["id"]))


def best(points: list[TrialResult]) -> TrialResult | None:
    """The most accurate point of the front (the faster of equals)."""
    return max(points, key=lambda r: (r.accuracy, r.fps), default=None)
