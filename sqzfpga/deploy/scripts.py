"""Vivado / Vitis HLS scripts for a board (Jinja templates in templates/vivado/), written into a build.

Both accelerators (the generated RTL, packaged as IP by `package_ip.tcl`; the HLS top exported by
`export_ip.tcl`) have the same ports, so one block design serves both: AXI-Stream `s_axis`/`m_axis`
in the byte layout of driver/layout.py, clock `ap_clk`, active-low reset `ap_rst_n`.
Every path inside the scripts is derived in Tcl from the script's own location, and every name put
into them is one of ours (checked by `_safe`), so nothing from a model file or the command line
reaches the Tcl.
"""
from __future__ import annotations

import re
import shlex
from pathlib import Path

from sqzfpga import vendor
from sqzfpga.deploy.boards import Board
from sqzfpga.hls.project import AXIS_TOP, PROJECT
from sqzfpga.jinja import render
from sqzfpga.parts import get_part

VENDOR, VERSION = "sqzfpga.org", "1.0"
PORTS = {"s_axis": "s_axis", "m_axis": "m_axis", "clock": "ap_clk", "reset": "ap_rst_n"}
BITSTREAM, HWH = "sqzfpga.bit", "sqzfpga.hwh"  # PYNQ looks for the .hwh beside the .bit, same stem
BD, VIVADO_PROJECT, HLS_IP_PROJECT = "sqzfpga_bd", "sqzfpga", "sqznet_ip_prj"
HLS_IP = f"{HLS_IP_PROJECT}/solution1/impl/ip/component.xml"  # what export_ip.tcl's export_design writes (in hls/)
CELLS = {"accel": "accel", "dma": "dma"}


def _safe(name: str) -> str:
    if not re.fullmatch(r"[A-Za-z0-9_.:/\-]+", name):
        raise ValueError(f"name {name!r} is not safe to put into Tcl")  # a bug: our names only
    return name


def _text(text: str) -> str:
    """One of our messages as a Tcl brace-quoted word (nothing in it is substituted)."""
    if re.search(r"[{}\\\n]", text):
        raise ValueError(f"text {text!r} is not safe to put into Tcl braces")  # a bug: our texts only
    return "{" + text + "}"


def mhz(clock_mhz: float) -> str:
    """The clock as the decimal number the PS configuration and the Tcl take (at most 3 decimals)."""
    text = f"{clock_mhz:.3f}".rstrip("0").rstrip(".")
    if not (0 < clock_mhz <= 1000) or not re.fullmatch(r"[0-9]+(\.[0-9]+)?", text):
        raise ValueError(f"clock {clock_mhz!r} MHz")  # the CLI refuses it first
    return text


def ip_of(accel: str, rtl_top: str | None) -> dict:
    """VLNV parts of the accelerator IP, and where the block design finds it (relative to the build)."""
    if accel == "rtl":
        return {"vendor": VENDOR, "library": "sqzfpga", "ip_name": rtl_top, "version": VERSION,
                "repo": "vivado/ip"}
    return {"vendor": VENDOR, "library": "hls", "ip_name": AXIS_TOP, "version": VERSION,
            "repo": f"hls/{HLS_IP_PROJECT}/solution1/impl/ip"}


def write(build: Path, board: Board, accel: str, rtl_manifest: dict | None, clock_mhz: float,
          stream_bits: int = 8) -> dict:
    """Write vivado/{package_ip,block_design,bitstream}.tcl and hls/export_ip.tcl; return what they
    name (for accel.json and the checks) and the commands that run them. `rtl_manifest` (rtl/rtl.json)
    is needed for the RTL accelerator only (package_ip.tcl); `stream_bits`: the DMA's MM2S stream width."""
    device = get_part(board.part).device
    ip = ip_of(accel, rtl_manifest["top"] if accel == "rtl" else None)
    vlnv = f"{ip['vendor']}:{ip['library']}:{ip['ip_name']}:{ip['version']}"
    common = {k: _safe(str(v)) for k, v in {
        "device": device, "board": board.name, "board_id": board.board_id, "vlnv": vlnv,
        "vlnv_unversioned": vlnv.rsplit(":", 1)[0], "vendor": ip["vendor"], "library": ip["library"],
        "ip_name": ip["ip_name"], "version": ip["version"], "ip_repo": ip["repo"], "bd": BD,
        "project": VIVADO_PROJECT, "bitstream": BITSTREAM, "hwh": HWH,
        "clock_mhz": mhz(clock_mhz), "accel_kind": accel, "ps": board.ps, "jobs": 4,
        **PORTS, **CELLS}.items()}
    vivado = build / "vivado"
    vivado.mkdir(exist_ok=True)
    if accel == "rtl":
        mems = sorted(p.name for p in (build / "rtl").glob("*.mem"))
        (vivado / "package_ip.tcl").write_text(render(
            "vivado/package_ip.tcl.jinja", sources=[_safe(s) for s in rtl_manifest["sources"] + mems],
            mems=[_safe(m) for m in mems], top=_safe(rtl_manifest["top"]), **common) + "\n")
    (vivado / "block_design.tcl").write_text(render("vivado/block_design.tcl.jinja", stream_bits=int(stream_bits),
                                                    install_hint=_text(board.install_hint()), **common) + "\n")
    (vivado / "bitstream.tcl").write_text(render("vivado/bitstream.tcl.jinja", **common) + "\n")
    (build / "hls" / "export_ip.tcl").write_text(render(
        "vivado/export_ip.tcl.jinja", **{**common, "top": AXIS_TOP}, project_dir=HLS_IP_PROJECT,
        dataflow_source=f"{PROJECT}.cpp", top_source=f"{AXIS_TOP}.cpp", period_ns=round(1000 / clock_mhz, 3)) + "\n")
    tools = [["hls", vendor.hls_argv("export_ip.tcl")]] * (accel == "hls") + \
            [["vivado", ["vivado", "-mode", "batch", "-source", "bitstream.tcl"]]]
    return {"board": board.name, "board_part": board.board_part, "device": device, "accel": accel, "vlnv": vlnv,
            "ports": PORTS, "bitstream": BITSTREAM, "hwh": HWH, "tools": tools,
            "scripts": ["vivado/package_ip.tcl"] * (accel == "rtl") + ["vivado/block_design.tcl",
                                                                         "vivado/bitstream.tcl", "hls/export_ip.tcl"]}


def commands(build: Path, tools: list) -> str:
    """The shell commands that run `tools` ([[subfolder, argv], ...]) for the build folder `build`."""
    return " && ".join(f"(cd {shlex.quote(str(build / cwd))} && {shlex.join(argv)})" for cwd, argv in tools)
