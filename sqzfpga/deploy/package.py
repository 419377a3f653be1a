"""The deployment package: everything the board needs, in the build's deploy/ folder and deploy.tar.gz.

    deploy/accel.json        board, part, byte layout, bitstream names, DMA cell, planned cycles
    deploy/validate.py       accuracy and frames/s on the board (or on the C-simulation stand-in)
    deploy/sqzfpga_driver/   the driver (sqzfpga/driver): numpy only, pynq imported on the board
    deploy/samples.npz       sample images, labels, and the C simulation's outputs for them
    deploy/csim/             the C-simulation stand-in: its sources (src/, recipe.json; compiled on first
                             use on each machine, driver/standin.py) and the weights it reads
    deploy/.sqzfpga-deploy   the marker that lets a later `deploy` replace this package (deploy/land.py)
    deploy/sqzfpga.bit/.hwh  after Vivado (bitstream.tcl copies them here)
"""
from __future__ import annotations

import json
import os
import shutil
import subprocess
import tarfile
import tempfile
import time
import uuid
from importlib.metadata import version
from pathlib import Path

import numpy as np

from sqzfpga import vendor
from sqzfpga.atomic import swap_in
from sqzfpga.deploy import land, scripts, tclcheck
from sqzfpga.deploy.boards import Board
from sqzfpga.errors import UserError
from sqzfpga.driver import standin
from sqzfpga.hls.project import AXIS_TOP, PROJECT

DRIVER = Path(__file__).resolve().parent.parent / "driver"
DRIVER_FILES = ("__init__.py", "layout.py", "driver.py", "standin.py")
ARCHIVE = "deploy.tar.gz"
STANDIN = "csim"  # the stand-in's folder in the package
SCRATCH = f"{STANDIN}/{standin.CACHE}"  # written there at run time: never shipped, kept across re-deploys


def shipped(info: tarfile.TarInfo) -> tarfile.TarInfo | None:
    """tarfile filter: what the package ships (not the stand-in's compiled cache, not __pycache__)."""
    parts = info.name.split("/")
    rel = "/".join(parts[1:] if parts[0] == "deploy" else parts)
    return None if "__pycache__" in parts or (rel + "/").startswith(SCRATCH + "/") else info


def _standin_sources(prj: Path, into: Path, log) -> None:
    """The sources the stand-in compiles (found by g++ -MM: hls4ml's firmware, ap_types, our top and main)
    into `into`/src with the recipe, compiled here once from there, as the board will, to check them."""
    sources = [f"{AXIS_TOP}_standin.cpp", f"firmware/{AXIS_TOP}.cpp", f"firmware/{PROJECT}.cpp"]
    include = ["firmware/ap_types", ".", "firmware"]
    flags = standin.FLAGS + [f"-I{i}" for i in include]
    r = subprocess.run(["g++", "-MM", *flags, *sources], cwd=prj, capture_output=True, text=True, timeout=600)
    if r.returncode != 0:
        raise RuntimeError(f"g++ -MM of the C-simulation stand-in failed: {r.stderr.strip()[-800:]}")
    deps = {os.path.normpath(t) for t in r.stdout.replace("\\\n", " ").split() if not t.endswith(":")}
    for rel in sorted(deps):
        (into / "src" / rel).parent.mkdir(parents=True, exist_ok=True)
        shutil.copyfile(prj / rel, into / "src" / rel)
    recipe = {"exe": f"{AXIS_TOP}_csim", "flags": standin.FLAGS, "include": include, "sources": sources}
    (into / standin.RECIPE).write_text(json.dumps(recipe, indent=1) + "\n")
    t0 = time.time()
    standin.compile_sources(into, say=lambda m: log(f"[build] {m}"))
    recipe.update(compile_s=round(time.time() - t0, 1), machine=os.uname().machine)
    (into / standin.RECIPE).write_text(json.dumps(recipe, indent=1) + "\n")


def write(build: Path, board: Board, accel: str, layout: dict, cycles_per_frame: int, clock_mhz: float,
          rtl_manifest: dict | None, log=print) -> dict:
    """Scripts (checked with tclsh where it exists) and the deploy/ folder; returns accel.json's content.
    `layout` (driver/layout.py) and `cycles_per_frame` are the deployed accelerator's; `rtl_manifest`
    (rtl/rtl.json) is needed for the RTL accelerator only."""
    info = scripts.write(build, board, accel, rtl_manifest, clock_mhz, layout.get("stream_bits", 8))
    if tclcheck.available():
        tclcheck.check_all([build / s for s in info["scripts"]])
    else:
        log("[build] tclsh not found: the Vivado scripts were not syntax-checked")
    # written beside, then swapped in: a continued build (--start-step) replaces its copy's deploy/ whole
    dep = Path(tempfile.mkdtemp(prefix=".deploy.partial-", dir=build))
    dep.chmod(0o755)  # as mkdir would make it (mkdtemp makes 0700)
    try:
        (dep / "sqzfpga_driver").mkdir(parents=True)
        for f in DRIVER_FILES:
            shutil.copyfile(DRIVER / f, dep / "sqzfpga_driver" / f)
        shutil.copyfile(DRIVER / "validate.py", dep / "validate.py")
        samples, cs = np.load(build / "samples.npz"), np.load(build / "csim.npz")
        np.savez_compressed(dep / "samples.npz", images=cs["images"], expected=cs["outputs"],
                            **({"labels": samples["labels"][:len(cs["images"])]} if "labels" in samples.files else {}))
        (dep / STANDIN / "weights").mkdir(parents=True)
        _standin_sources(build / "hls", dep / STANDIN, log)
        for w in (build / "hls" / "firmware" / "weights").glob("*.txt"):
            shutil.copyfile(w, dep / STANDIN / "weights" / w.name)
        meta = {"board": board.name, "part": board.part, "device": info["device"], "accel": accel,
                "vlnv": info["vlnv"], "clock_mhz": clock_mhz, "bitstream": info["bitstream"], "hwh": info["hwh"],
                "dma": scripts.CELLS["dma"], "layout": layout, "standin": STANDIN,
                "planned_cycles_per_frame": cycles_per_frame, "tools": info["tools"],
                "scripts": info["scripts"]}
        (dep / "accel.json").write_text(json.dumps(meta, indent=1) + "\n")
        (dep / land.MARKER).write_text(json.dumps({
            "sqzfpga_deploy": 1, "tool": "sqzfpga", "version": version("sqzfpga"), "build_id": uuid.uuid4().hex[:16],
            "built": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime()), "scratch": [SCRATCH]}, indent=1) + "\n")
        swap_in(dep, build / "deploy")
    except BaseException:
        shutil.rmtree(dep, ignore_errors=True)
        raise
    archive(build)
    return meta


def archive(build: Path) -> Path:
    """deploy/ as deploy.tar.gz (written beside, then renamed: never a half archive)."""
    tmp = build / f".{ARCHIVE}.partial"
    with tarfile.open(tmp, "w:gz", compresslevel=6) as tar:  # 9: 10x the time, 10% smaller
        tar.add(build / "deploy", arcname="deploy", filter=shipped)
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
