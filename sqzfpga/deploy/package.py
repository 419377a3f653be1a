"""The deployment package: everything the board needs, in the build's deploy/ folder and deploy.tar.gz.

    deploy/accel.json        board, part, byte layout, bitstream names, DMA cell, planned cycles
    deploy/validate.py       accuracy and frames/s on the board (or on the C-simulation stand-in)
    deploy/sqzfpga_driver/   the driver (sqzfpga/firmware): numpy only, pynq imported on the board
    deploy/samples.npz       sample images, labels, and the C simulation's outputs for them
    deploy/csim/             the C-simulation stand-in (host binary) and the weights it reads
    deploy/sqzfpga.bit/.hwh  after Vivado (bitstream.tcl copies them here)
"""
from __future__ import annotations

import json
import shutil
import tarfile
from pathlib import Path

import numpy as np

from sqzfpga import vendor
from sqzfpga.deploy import scripts, tclcheck
from sqzfpga.deploy.boards import Board
from sqzfpga.errors import UserError
from sqzfpga.hls.project import AXIS_TOP, compile_standin

FIRMWARE = Path(__file__).resolve().parent.parent / "firmware"
DRIVER_FILES = ("__init__.py", "layout.py", "driver.py", "standin.py")
ARCHIVE = "deploy.tar.gz"


def write(build: Path, board: Board, accel: str, rtl_manifest: dict, clock_mhz: float, log=print) -> dict:
    """Scripts (checked with tclsh where it exists) and the deploy/ folder; returns accel.json's content."""
    info = scripts.write(build, board, accel, rtl_manifest, clock_mhz)
    if tclcheck.available():
        tclcheck.check_all([build / s for s in info["scripts"]])
    else:
        log("[build] tclsh not found: the Vivado scripts were not syntax-checked")
    dep = build / "deploy"
    (dep / "sqzfpga_driver").mkdir(parents=True)
    for f in DRIVER_FILES:
        shutil.copyfile(FIRMWARE / f, dep / "sqzfpga_driver" / f)
    shutil.copyfile(FIRMWARE / "validate.py", dep / "validate.py")
    samples, cs = np.load(build / "samples.npz"), np.load(build / "csim.npz")
    np.savez_compressed(dep / "samples.npz", images=cs["images"], expected=cs["outputs"],
                        **({"labels": samples["labels"][:len(cs["images"])]} if "labels" in samples.files else {}))
    log("[build] compiling the C-simulation stand-in of the DMA-facing top ...")
    (dep / "csim" / "weights").mkdir(parents=True)
    compile_standin(build / "hls", dep / "csim" / f"{AXIS_TOP}_csim")
    for w in (build / "hls" / "firmware" / "weights").glob("*.txt"):
        shutil.copyfile(w, dep / "csim" / "weights" / w.name)
    meta = {"board": board.name, "part": board.part, "device": info["device"], "accel": accel,
            "vlnv": info["vlnv"], "clock_mhz": clock_mhz, "bitstream": info["bitstream"], "hwh": info["hwh"],
            "dma": scripts.CELLS["dma"], "layout": rtl_manifest["layout"], "standin": f"csim/{AXIS_TOP}_csim",
            "planned_cycles_per_frame": rtl_manifest["plan"]["cycles_per_frame"], "tools": info["tools"],
            "scripts": info["scripts"]}
    (dep / "accel.json").write_text(json.dumps(meta, indent=1) + "\n")
    archive(build)
    return meta


def archive(build: Path) -> Path:
    """deploy/ as deploy.tar.gz (written beside, then renamed: never a half archive)."""
    tmp = build / f".{ARCHIVE}.partial"
    with tarfile.open(tmp, "w:gz") as tar:
        tar.add(build / "deploy", arcname="deploy")
    tmp.rename(build / ARCHIVE)
    return build / ARCHIVE


def has_bitstream(dep: Path, meta: dict) -> bool:
    return (dep / meta["bitstream"]).is_file() and (dep / meta["hwh"]).is_file()


def run_vivado(build: Path, meta: dict, log=print) -> None:
    """Run the Vivado (and for the HLS accelerator, Vitis HLS) flow; the bitstream lands in deploy/.
    A failing tool is one error naming its log (vendor.run)."""
    for cwd, cmd in meta["tools"]:
        if shutil.which(cmd[0]) is None:
            raise UserError(f"--bitstream: {cmd[0]} is not on PATH; run {scripts.commands(build, meta['tools'])} "
                            "where it is installed")
        if cwd == "hls":
            vendor.run(cmd, build / cwd, vendor.HLS_TIMEOUT_S, produces=(scripts.HLS_IP,), log=log)
        else:
            vendor.run(cmd, build / cwd, vendor.VIVADO_TIMEOUT_S,
                       produces=tuple(f"../deploy/{meta[k]}" for k in ("bitstream", "hwh")), log=log)
    archive(build)
