"""RTL sections of a build's report.md (plan at build time; simulation and synthesis when run)."""
from __future__ import annotations

import re
from pathlib import Path


def set_section(report: Path, title: str, body: str) -> None:
    """Replace (or append) the `## title` section of report.md."""
    text = report.read_text() if report.exists() else ""
    block = f"## {title}\n\n{body.strip()}\n"
    pattern = re.compile(rf"^## {re.escape(title)}\n.*?(?=^## |\Z)", re.S | re.M)
    text = pattern.sub(lambda _: block + "\n", text, count=1) if pattern.search(text) else \
        text.rstrip("\n") + "\n\n" + block
    report.write_text(text)


def multipliers(u: dict) -> str:
    """How a planned unit multiplies: DSP slices, packed DSP pairs, or LUTs ('-' without any)."""
    if not u["lanes"]:
        return "-"
    return f"{u['lanes']} " + ("LUT" if u["lutmul"] else "DSP/2" if u["pack"] == 2 else "DSP")


def rom(u: dict) -> str:
    return "LUT" if u.get("rom") == "distributed" else "-" if u["kind"] != "conv" else "auto"


def plan_section(manifest: dict) -> str:
    p = manifest["plan"]
    rows = ["| unit | PI | PO | multipliers | weight ROM | DSP | LUT (est.) | BRAM36 (est.) | steps/pixel | cycles/frame |",
            "|---|---:|---:|---|---|---:|---:|---:|---:|---:|"]
    for u in p["units"]:
        mark = " **(bottleneck)**" if u["name"] == p["bottleneck"] else ""
        rows.append(f"| {u['name']}{mark} | {u['pi']} | {u['po']} | {multipliers(u)} | {rom(u)} | {u['dsp']} | "
                    f"{u['lut']} | {u['bram36']} | {u['nstep']} | {u['cycles']} |")
    e, b = p["estimate"], p.get("budget", {})
    used = ", ".join(f"{k.upper()} {e[k]:,.0f} of {b[k]:,.0f}" for k in b)
    return (f"Generated SystemVerilog in `rtl/` (top `{manifest['top']}`). Planned: {p['cycles_per_frame']} cycles per "
            f"frame ({100e6 / p['cycles_per_frame']:.0f} frames/s at 100 MHz), {p['lanes']} multipliers on "
            f"{p['dsp']} DSP slices, {p['macs_per_frame']:,} MACs per frame; estimated {used} (the planner's "
            f"budget, {p.get('fill', 1):.0%} of the part).\n\n" + "\n".join(rows) +
            "\n\nSimulate: `python -m sqzfpga rtlsim --build DIR`; synthesise: `python -m sqzfpga synth --build DIR`.")


def rtlsim_section(res: dict) -> str:
    return (f"{res['images']} images back to back on Verilator: "
            f"{'all outputs equal to the C simulation' if res['exact'] else str(res['mismatching_values']) + ' values differ'}"
            f"; {res['cycles_per_frame']} cycles per frame (planned {res['planned_cycles_per_frame']}), latency "
            f"{res['latency_cycles']} cycles, {res['fps_at_100mhz']} frames/s at 100 MHz.")


def synth_section(res: dict) -> str:
    u = res["utilisation"]
    return (f"Yosys synth_xilinx for {res['part']} ({res['synth_s']} s): LUT {res['lut']} ({u['lut']:.1%}, of which "
            f"{res['lut_as_memory']} as memory), FF {res['ff']} ({u['ff']:.1%}), BRAM36 {res['bram36']} "
            f"({u['bram36']:.1%}; RAMB36 {res['ramb36']}, RAMB18 {res['ramb18']}), DSP48 {res['dsp']} "
            f"({u['dsp']:.1%}): {'fits' if res['fits'] else 'does NOT fit'}. Yosys's counts run higher than Vivado's.")
