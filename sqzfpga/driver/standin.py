"""A transport that runs the C simulation instead of the fabric: the stand-in program (the HLS sources, the
AXI-Stream top included, around a main that plays the DMA) reads the input DMA buffer from a file and writes
the output buffer, so the driver and validate.py run unchanged off the board.

The package ships the stand-in's SOURCES (deploy/csim/src/, with RECIPE), not a binary: a binary built on
the build machine (x86) cannot run on an ARM board, and not even on every x86 Linux (libstdc++ versions).
The first use on a machine compiles them with that machine's g++ into CACHE/<machine>-<digest of the
sources>/, which later runs reuse (and `deploy` keeps across re-deploys)."""
from __future__ import annotations

import hashlib
import json
import os
import platform
import shutil
import signal
import subprocess
import sys
import tempfile
from pathlib import Path

import numpy as np

RECIPE = "recipe.json"  # {"exe", "flags", "include", "sources", "compile_s", "machine"}: how to compile src/
CACHE = "compiled"  # under the stand-in's folder; made at first use, never shipped
FLAGS = ["-O2", "-std=c++14"]
COMPILE_LIMIT_S = 1800  # a PYNQ-Z2's Cortex-A9 takes many times the build machine's seconds


class StandinError(RuntimeError):
    pass


def _digest(src: Path) -> str:
    h = hashlib.sha256()
    for p in sorted(src.rglob("*")):
        if p.is_file():
            h.update(str(p.relative_to(src)).encode() + b"\0" + p.read_bytes())
    return h.hexdigest()[:16]


def compile_sources(folder: Path, timeout: float = COMPILE_LIMIT_S, say=None) -> Path:
    """The stand-in program compiled from folder/src for this machine, compiling it when not yet cached.
    Says so on stderr (or to `say`); one StandinError naming the log when g++ is missing or fails."""
    folder = Path(folder)
    recipe = json.loads((folder / RECIPE).read_text())
    src = folder / "src"
    machine = platform.machine() or "unknown"
    out = folder / CACHE / f"{machine}-{_digest(src)}"
    exe = out / recipe["exe"]
    if exe.is_file():
        return exe
    gxx = shutil.which("g++")
    if gxx is None:
        raise StandinError("g++ not found: the C-simulation stand-in is compiled from its sources on first use; "
                           "install g++ (e.g. `sudo apt-get install g++`) and run again")
    took = recipe.get("compile_s")
    about = (f"about {took:.0f} s" if recipe.get("machine") == machine else
             f"{took:.0f} s on the build machine ({recipe.get('machine')}), up to 20 times that on a board's ARM "
             "core") if took else "a minute or more"
    (say or (lambda m: print(m, file=sys.stderr, flush=True)))(
        f"compiling the C-simulation stand-in on this machine ({about}, once; at most {timeout:.0f} s) ...")
    out.mkdir(parents=True, exist_ok=True)
    log = out / "compile.log"
    fd, tmp = tempfile.mkstemp(prefix=f".{recipe['exe']}.", dir=str(out))
    os.close(fd)
    cmd = [gxx, *recipe["flags"], *(f"-I{src / i}" for i in recipe["include"]),
           *(str(src / s) for s in recipe["sources"]), "-o", tmp]
    try:
        with open(log, "w") as f:
            f.write(" ".join(cmd) + "\n")
            f.flush()
            p = subprocess.Popen(cmd, stdout=f, stderr=subprocess.STDOUT, start_new_session=True)
            try:
                p.wait(timeout=timeout)
            except subprocess.TimeoutExpired:
                os.killpg(p.pid, signal.SIGKILL)  # g++ and the cc1plus under it
                p.wait()
                raise StandinError(f"compiling the C-simulation stand-in took longer than {timeout:g} s and was "
                                   f"stopped; see {log}") from None
        if p.returncode != 0:
            raise StandinError(f"compiling the C-simulation stand-in failed (g++ exit {p.returncode}); see {log}")
        os.replace(tmp, exe)  # whole or not at all: a second process compiling at the same time is harmless
        for old in out.parent.glob(f"{machine}-*"):  # this machine's, for sources of an earlier package
            if old != out:
                shutil.rmtree(old, ignore_errors=True)
    finally:
        if os.path.exists(tmp):
            os.unlink(tmp)
    return exe


class CsimStandin:
    def __init__(self, folder: Path):
        """`folder`: the stand-in's folder of the deployment package (accel.json's `standin`)."""
        folder = Path(folder)
        if not (folder / RECIPE).is_file():
            raise FileNotFoundError(f"{folder / RECIPE}: the C-simulation stand-in is missing from the deployment "
                                    "folder (a package from an older sqzfpga: build it again)")
        self.folder = folder
        self.exe = compile_sources(folder)

    def transfer(self, data: np.ndarray, out_bytes: int) -> np.ndarray:
        with tempfile.TemporaryDirectory() as d:
            src, dst = Path(d) / "in.bin", Path(d) / "out.bin"
            np.asarray(data, dtype=np.uint8).tofile(src)
            r = subprocess.run([str(self.exe), str(src), str(dst)], cwd=self.folder, capture_output=True,
                               text=True)
            if r.returncode != 0:
                raise RuntimeError(f"C-simulation stand-in failed: {r.stderr.strip()[-400:]}")
            out = np.fromfile(dst, dtype=np.uint8)
        if out.size != out_bytes:
            raise RuntimeError(f"C-simulation stand-in wrote {out.size} bytes, expected {out_bytes}")
        return out
