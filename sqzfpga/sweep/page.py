"""The sweep's page, in the build report's style: sweep.html (self-contained, the figure inline) and
sweep.md (the figure in sweep/pareto.png), rendered from sweep.json and pareto.json: the Pareto plot
(accuracy against frames/s, colour = the plan's LUT share of the part, marker = fits or not), the table
of every trial and a link to the best point's build report."""
from __future__ import annotations

import base64
import json
import os
from pathlib import Path

import jinja2

from sqzfpga.atomic import atomic_path
from sqzfpga.jinja import environment

FIGURE = "sweep/pareto.png"
_jinja = environment(autoescape=jinja2.select_autoescape(enabled_extensions=("html.jinja",),
                                                         default_for_string=False),
                     trim_blocks=True, lstrip_blocks=True)


def pareto_plot(trials: list[dict], front: list[str]) -> bytes:
    """Accuracy against frames/s (log), one marker per trial: colour its LUT share, o fits, x does not;
    the Pareto front joined and labelled."""
    import matplotlib.pyplot as plt

    from sqzfpga.report.plots import _png

    fig, ax = plt.subplots(figsize=(8, 5), layout="constrained")
    planned = [t for t in trials if t["fps"] is not None]
    norm = plt.Normalize(0, max([1.0] + [t["lut_share"] for t in planned]))
    for fits, marker in ((True, "o"), (False, "x")):
        pts = [t for t in planned if t["fits"] == fits]
        if pts:
            sc = ax.scatter([t["fps"] for t in pts], [t["accuracy"] for t in pts], c=[t["lut_share"] for t in pts],
                            cmap="viridis", norm=norm, marker=marker, s=60, label="fits" if fits else "does not fit")
    if planned:
        fig.colorbar(sc, ax=ax, label="LUT share of the part (plan)")
    by_id = {t["trial"]["id"]: t for t in planned}
    pts = [by_id[i] for i in front if i in by_id]
    if pts:
        ax.plot([t["fps"] for t in pts], [t["accuracy"] for t in pts], color="#d62828", lw=1, zorder=0,
                label="Pareto front")
        for t in pts:
            ax.annotate(t["trial"]["id"], (t["fps"], t["accuracy"]), fontsize=7, xytext=(4, 4),
                        textcoords="offset points")
    ax.set_xscale("log")
    ax.set_xlabel("frames/s (plan, at the clock requested)")
    ax.set_ylabel("accuracy (quantized, test split)")
    ax.grid(alpha=0.3)
    if planned:
        ax.legend(fontsize=8, loc="lower left")
    ax.set_title("Accuracy against frames/s", fontsize=11)
    return _png(fig)


def write_page(out: Path) -> Path:
    """sweep.md, its figure and sweep.html of the sweep folder `out`; returns the HTML's path."""
    out = Path(out)
    sweep = json.loads((out / "sweep.json").read_text())
    front = json.loads((out / "pareto.json").read_text())
    png = pareto_plot(sweep["trials"], [p["trial"]["id"] for p in front["points"]])
    best = next((p for p in front["points"] if p["trial"]["id"] == front["best"]), None)
    report = None
    if best and best.get("build") and best["build"].get("folder"):
        report = os.path.relpath(Path(best["build"]["folder"]) / "report.html", out)
    data = {"summary": sweep["summary"], "budget": sweep["budget"], "trials": sweep["trials"],
            "points": front["points"], "best": best, "best_report": report}
    with atomic_path(out / FIGURE) as tmp:
        tmp.write_bytes(png)
    md = _jinja.get_template("sweep.md.jinja").render(**data, figure=FIGURE)
    html = _jinja.get_template("sweep.html.jinja").render(
        **data, figure="data:image/png;base64," + base64.b64encode(png).decode())
    for name, text in (("sweep.md", md), ("sweep.html", html)):
        with atomic_path(out / name) as tmp:
            tmp.write_text(text.strip() + "\n")
    return out / "sweep.html"
