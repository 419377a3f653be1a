"""The build report's figures (matplotlib, Agg backend), each returned as PNG bytes.

Every figure has its own signature colour (COLOURS), used nowhere else in the report, so that a
screenshot of the HTML shows which figures are really drawn (tests/test_report.py counts them).
"""
from __future__ import annotations

import io

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402

COLOURS = {  # figure -> signature colour
    "resources": "#2a9d8f",
    "cycles": "#e9c46a",
    "ranges": "#6a4c93",
    "accuracy": "#8338ec",
    "fit": "#ff006e",
}
BOTTLENECK = "#d62828"
SYNTH = "#3a86ff"
REPRESENTABLE = "#d9d9d9"
DPI = 100


def _png(fig) -> bytes:
    buf = io.BytesIO()
    fig.savefig(buf, format="png", dpi=DPI)
    plt.close(fig)
    return buf.getvalue()


def resources(layers: list[dict]) -> bytes:
    """Per layer: DSP, LUT, BRAM36 (RTL plan, summed over its units) and on-chip memory bits (bars)."""
    names = [l["layer"] for l in layers]
    panels = [("dsp", "DSP slices"), ("lut", "LUTs (est.)"), ("bram36", "BRAM36 (est.)"),
              ("memory_bits", "memory (kbit)")]
    fig, axes = plt.subplots(1, 4, figsize=(11, 0.28 * len(names) + 1.4), sharey=True, layout="constrained")
    for ax, (key, title) in zip(axes, panels):
        vals = [(l[key] or 0) / (1000 if key == "memory_bits" else 1) for l in layers]
        ax.barh(names, vals, color=COLOURS["resources"])
        ax.set_title(title, fontsize=10)
        ax.grid(axis="x", alpha=0.3)
    axes[0].invert_yaxis()
    fig.suptitle("Resources per layer", fontsize=11)
    return _png(fig)


def cycles(layers: list[dict], frame_cycles: int, bottleneck: str | None, measured: float | None) -> bytes:
    """Cycles per frame of each layer (its slowest unit); the bottleneck in red; the frame interval."""
    names = [l["layer"] for l in layers]
    vals = [l["cycles"] or 0 for l in layers]
    fig, ax = plt.subplots(figsize=(11, 3.6), layout="constrained")
    ax.bar(names, vals, color=[BOTTLENECK if n == bottleneck else COLOURS["cycles"] for n in names])
    ax.axhline(frame_cycles, color="black", linestyle="--", linewidth=1,
               label=f"planned frame interval: {frame_cycles:,} cycles")
    if measured is not None:
        ax.axhline(measured, color=SYNTH, linestyle=":", linewidth=1.5,
                   label=f"measured (RTL simulation): {measured:,.0f} cycles")
    ax.set_ylabel("cycles per frame")
    ax.set_ylim(0, 1.3 * max(vals + [frame_cycles, measured or 0]))
    ax.set_title(f"Cycles per layer (bottleneck: {bottleneck})" if bottleneck else "Cycles per layer", fontsize=11)
    ax.tick_params(axis="x", rotation=45)
    ax.legend(loc="upper right", fontsize=8)
    ax.grid(axis="y", alpha=0.3)
    return _png(fig)


def ranges(layers: list[dict]) -> bytes:
    """Observed weight and activation ranges (dark) inside each layer's representable range (grey),
    both as fractions of the largest magnitude the type holds (layers differ by orders of magnitude);
    the numbers beside each bar."""
    counts = [max(1, sum(1 for l in layers if l.get(k))) for k in ("weights", "activations")]
    fig, axes = plt.subplots(2, 1, figsize=(11, 0.27 * sum(counts) + 2.2), layout="constrained",
                             height_ratios=counts)
    for ax, key, title in ((axes[0], "weights", "weights"), (axes[1], "activations", "activations (layer outputs)")):
        rows = [(l["layer"], l[key]) for l in layers if l.get(key)]
        for y, (_, r) in enumerate(rows):
            scale = max(abs(r["type_min"]), abs(r["type_max"])) or 1.0
            ax.barh(y, (r["type_max"] - r["type_min"]) / scale, left=r["type_min"] / scale, height=0.8,
                    color=REPRESENTABLE)
            ax.barh(y, max(r["max"] - r["min"], scale * 0.004) / scale, left=r["min"] / scale, height=0.45,
                    color=COLOURS["ranges"])
            ax.text(1.06, y, f"{r['min']:g} .. {r['max']:g}  of  {r['type']}  ({r['type_min']:g} .. {r['type_max']:g})",
                    va="center", fontsize=8)
        ax.set_yticks(range(len(rows)), [n for n, _ in rows])
        ax.invert_yaxis()
        ax.set_xlim(-1.05, 2.6)
        ax.set_xticks([-1, -0.5, 0, 0.5, 1])
        ax.set_xlabel("fraction of the type's largest magnitude", fontsize=9)
        ax.set_title(title, fontsize=10)
        ax.grid(axis="x", alpha=0.3)
        if not rows:
            ax.text(0.5, 0.5, "none", ha="center", va="center", transform=ax.transAxes)
    fig.suptitle("Value ranges: observed (dark) within the representable range of the layer's type (grey)",
                 fontsize=11)
    return _png(fig)


def accuracy(bars: list[dict]) -> bytes:
    """Accuracy bars; one without a value is drawn as a note ('not run' and how to run it), not a zero."""
    fig, ax = plt.subplots(figsize=(11, 0.55 * len(bars) + 1.2), layout="constrained")
    for y, b in enumerate(bars):
        if b["value"] is None:
            ax.text(0.01, y, b["missing"], va="center", fontsize=9, style="italic", color="dimgray")
        else:
            ax.barh(y, b["value"], color=COLOURS["accuracy"], height=0.6)
            ax.text(b["value"] + 0.005, y, f"{b['value']:.2%}", va="center", fontsize=9)
    ax.set_yticks(range(len(bars)), [b["label"] for b in bars])
    ax.set_xlim(0, 1.12)
    ax.set_ylim(len(bars) - 0.5, -0.5)
    ax.set_xlabel("top-1 accuracy")
    ax.set_title("Accuracy: float, quantized, C simulation, RTL simulation", fontsize=11)
    ax.grid(axis="x", alpha=0.3)
    return _png(fig)


def fit(resources: list[dict]) -> bytes:
    """Utilisation of the part per resource: the RTL plan's estimate and (when run) Yosys synthesis."""
    fig, ax = plt.subplots(figsize=(11, 3.4), layout="constrained")
    xs = range(len(resources))
    est = [r["estimate"] / r["available"] for r in resources]
    ax.bar([x - 0.2 for x in xs], est, width=0.4, color=COLOURS["fit"], label="estimate (RTL plan)")
    for x, r in zip(xs, resources):
        if r["synth"] is None:
            ax.text(x + 0.2, 0.02, "synthesis\nnot run", ha="center", va="bottom", fontsize=8, color="dimgray")
        else:
            ax.bar(x + 0.2, r["synth"] / r["available"], width=0.4, color=SYNTH,
                   label="Yosys synthesis" if x == 0 else None)
    ax.axhline(1.0, color="black", linewidth=1, label="available on the part")
    ax.set_xticks(list(xs), [f"{r['name']}\n({r['available']:,} available)" for r in resources])
    ax.set_ylabel("fraction of the part")
    ax.set_xlim(-0.6, len(resources) - 0.2)
    ax.set_ylim(0, max([1.3] + [e * 1.1 for e in est] + [r["synth"] / r["available"] * 1.1
                                                          for r in resources if r["synth"] is not None]))
    ax.set_title("Fit against the part", fontsize=11)
    ax.legend(loc="upper right", fontsize=8)
    ax.grid(axis="y", alpha=0.3)
    return _png(fig)
