"""`synth`: Yosys `synth_xilinx` on the generated RTL; LUT / FF / BRAM / DSP against the part.

The top module is wiring only, so the design is synthesised stage by stage (each layer instance
with its parameters, two Yosys processes at a time) and the counts summed: the same cells as one
run over the whole design, in a fraction of the time, with a per-layer breakdown. Counts are
Yosys's (they run higher than Vivado's for the same RTL). LUT counts include LUTs used as memory
(distributed RAM, shift registers); block RAM is reported in RAMB36 units, a RAMB18 counting as half.
"""
from __future__ import annotations

import json
import subprocess
import time
from pathlib import Path

from tqdm import tqdm

from sqzfpga.errors import UserError
from sqzfpga.parts import Part
from sqzfpga import tools

LUTRAM_LUTS = {"RAM32M": 4, "RAM64M": 4, "RAM32M16": 8, "RAM64M8": 8, "RAM32X1D": 2, "RAM64X1D": 2,
               "RAM128X1D": 4, "RAM256X1D": 8, "RAM32X1S": 1, "RAM64X1S": 1, "RAM128X1S": 2, "RAM256X1S": 4,
               "SRL16E": 1, "SRLC32E": 1, "SRLC16E": 1}


def family(part: Part) -> str:
    return part.family.yosys


def count(cells: dict) -> dict:
    """Resource figures from Yosys's cell counts."""
    lut = sum(n for c, n in cells.items() if c.startswith("LUT") and c[3:].isdigit())
    lutram = sum(LUTRAM_LUTS.get(c, 0) * n for c, n in cells.items())
    ff = sum(n for c, n in cells.items() if c.startswith("FD"))
    b36 = sum(n for c, n in cells.items() if c.startswith("RAMB36"))
    b18 = sum(n for c, n in cells.items() if c.startswith("RAMB18"))
    dsp = sum(n for c, n in cells.items() if c.startswith("DSP48"))
    return {"lut": lut + lutram, "lut_as_memory": lutram, "ff": ff, "bram36": b36 + b18 / 2, "ramb36": b36,
            "ramb18": b18, "dsp": dsp}


def _current_pass(log: Path) -> str:
    """The pass Yosys is running now, from its log (for the progress line)."""
    try:
        with open(log, "rb") as f:
            f.seek(max(0, f.seek(0, 2) - 65536))
            lines = [l for l in f.read().decode(errors="replace").splitlines() if ". Executing " in l]
        return lines[-1].split("Executing ", 1)[1][:60] if lines else "reading sources"
    except OSError:
        return "starting"


def yosys_literal(value: str) -> str:
    """An SV parameter literal as chparam reads it: a negative decimal ("-2") is not decoded, so it is
    written as a signed 64-bit hex literal (an int parameter takes its low 32 bits, the same value)."""
    if value.startswith("-") and value[1:].isdigit():
        return f"64'sh{int(value) & (2 ** 64 - 1):016X}"
    return value


def run_yosys(folder: Path, sources: list[str], top: str, part: Part, params: dict | None = None,
              timeout: int = 7200, show_progress: bool = False, tag: str = "synth", no_pads: bool = False,
              netlist: bool = False) -> dict:
    """synth_xilinx on `sources` in `folder` (where the ROM files are); `params` (SV literals) are set
    on `top` with chparam; `no_pads` for a block inside a design (no I/O buffers on its ports).
    Returns Yosys's cell counts; writes TAG.ys, TAG.log, TAG_stat.json (and with `netlist` the mapped
    netlist TAG_netlist.json, which the timing estimate reads).

    Wide multiplexers go to MUXF7/MUXF8 (`-widemux 5`, as Vivado maps them). On some layers (a bias ROM
    in LUTs beside a pipelined adder tree) Yosys 0.70's ABC9 then fails an assertion
    (Gia_ManDupCollapse in &verify, a wasm trap); such a stage is synthesised again without
    `-widemux`, which costs some LUTs, and TAG.log says so."""
    try:
        return _yosys_once(folder, sources, top, part, params, timeout, show_progress, tag, no_pads, netlist,
                           widemux=True)
    except Abc9Assertion:
        pass
    log = folder / f"{tag}.log"
    first = log.read_text(errors="replace")
    cells = _yosys_once(folder, sources, top, part, params, timeout, show_progress, tag, no_pads, netlist,
                        widemux=False)
    log.write_text(f"# Yosys ABC9 assertion with -widemux 5 (log below the second run); synthesised again without it\n"
                   f"{log.read_text(errors='replace')}\n# ---- first run, with -widemux 5 ----\n{first}")
    return cells


class Abc9Assertion(UserError):
    """Yosys stopped on the ABC9 assertion that run_yosys works around (Gia_ManDupCollapse in its backtrace)."""


def _yosys_once(folder: Path, sources: list[str], top: str, part: Part, params: dict | None, timeout: int,
                show_progress: bool, tag: str, no_pads: bool, netlist: bool, widemux: bool) -> dict:
    # one chparam for all: Yosys re-elaborates the module after each call, so parameters set one at a
    # time pass through inconsistent sets that the modules' elaboration checks rightly reject
    chparam = [f"chparam {' '.join(f'-set {k} {yosys_literal(v)}' for k, v in params.items())} {top}"] if params else []
    script = "\n".join([f"read_verilog -sv {' '.join(sources)}", *chparam,
                        f"synth_xilinx -family {family(part)} -top {top}{' -widemux 5' if widemux else ''}"
                        f"{' -noiopad' if no_pads else ''}",
                        f"tee -q -o {tag}_stat.json stat -json",
                        # flattened: sub-modules that synth_xilinx kept are inlined for the timing pass
                        *(["flatten", f"select {top}", f"write_json -selected {tag}_netlist.json"] if netlist else [])]) + "\n"
    (folder / f"{tag}.ys").write_text(script)
    log = folder / f"{tag}.log"
    log.unlink(missing_ok=True)
    proc = subprocess.Popen(tools.yosys_command() + ["-q", "-l", f"{tag}.log", f"{tag}.ys"], cwd=folder,
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    t0 = time.time()
    with tqdm(desc="[synth] yosys", bar_format="{desc}: {postfix} ({elapsed})", disable=not show_progress,
              leave=False) as bar:
        while proc.poll() is None:
            if time.time() - t0 > timeout:
                proc.kill()
                raise UserError(f"synthesis of {folder}: Yosys took over {timeout} s; see {log}")
            time.sleep(1)
            bar.set_postfix_str(_current_pass(log))
    out, errout = proc.communicate()
    if proc.returncode != 0:
        if "Gia_ManDupCollapse" in errout:
            raise Abc9Assertion(f"synthesis of {folder}: Yosys's ABC9 failed an assertion (Gia_ManDupCollapse); see {log}")
        # pyosys (rtl/pyosys_cli.py) exits on an error with its message in the log only
        text = errout + out + (log.read_text(errors="replace")[-65536:] if log.exists() else "")
        err = next((l for l in text.splitlines() if "ERROR" in l), errout.strip()[-300:])
        raise UserError(f"synthesis of {folder}: Yosys failed: {err}; see {log}")
    stat = json.loads((folder / f"{tag}_stat.json").read_text())
    return stat.get("design", {}).get("num_cells_by_type") or \
        next(iter(stat["modules"].values()))["num_cells_by_type"]


def synthesize(rtl: Path, part: Part, timeout: int = 7200, show_progress: bool = False, jobs: int = 2) -> dict:
    """The `synth` command: every stage of the generated design through Yosys, counts summed against
    the part; writes rtl/synth.json (totals, cells, per stage) and the logs and netlists under rtl/synth/
    (which `timing` reuses)."""
    from concurrent.futures import ThreadPoolExecutor

    manifest = json.loads((rtl / "rtl.json").read_text())
    t0 = time.time()
    (rtl / "synth").mkdir(exist_ok=True)
    sources = [s for s in manifest["sources"] if s != f"{manifest['top']}.sv"]
    stages = manifest["stages"]
    with tqdm(total=len(stages), desc="[synth] stages", unit="stage", disable=not show_progress, leave=False) as bar:
        def one(st):
            t = time.time()
            cells = run_yosys(rtl, sources, st["module"], part, st["params"], timeout=timeout,
                              tag=f"synth/{st['name']}", no_pads=True, netlist=True)  # for `timing`
            bar.update(1)
            return cells, round(time.time() - t, 1)
        with ThreadPoolExecutor(max_workers=jobs) as pool:
            done = dict(zip((st["name"] for st in stages), pool.map(one, stages)))
    per_stage = {n: c for n, (c, _) in done.items()}
    cells: dict[str, int] = {}
    for c in per_stage.values():
        for k, n in c.items():
            cells[k] = cells.get(k, 0) + int(n)
    res = count(cells)
    cap = part.capacity()
    res.update(part=part.name, fits=all(res[k] <= cap[k] for k in cap),
               utilisation={k: round(res[k] / cap[k], 4) for k in cap}, synth_s=round(time.time() - t0, 1),
               tool=tools.yosys_name())
    (rtl / "synth.json").write_text(json.dumps({**res, "cells": cells, "stages": {
        n: {**count(c), "synth_s": done[n][1]} for n, c in per_stage.items()}}, indent=1) + "\n")
    return res
