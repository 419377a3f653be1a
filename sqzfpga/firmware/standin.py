"""A transport that runs the C simulation instead of the fabric: the stand-in program (built by
`build` from the HLS sources, the AXI-Stream top included) reads the input DMA buffer from a file
and writes the output buffer, so the driver and validate.py run unchanged off the board."""
from __future__ import annotations

import subprocess
import tempfile
from pathlib import Path

import numpy as np


class CsimStandin:
    def __init__(self, exe: Path):
        if not exe.exists():
            raise FileNotFoundError(f"{exe}: the C-simulation stand-in is missing from the deployment folder")
        self.exe = exe

    def transfer(self, data: np.ndarray, out_bytes: int) -> np.ndarray:
        with tempfile.TemporaryDirectory() as d:
            src, dst = Path(d) / "in.bin", Path(d) / "out.bin"
            np.asarray(data, dtype=np.uint8).tofile(src)
            r = subprocess.run([str(self.exe), str(src), str(dst)], cwd=self.exe.parent, capture_output=True,
                               text=True)
            if r.returncode != 0:
                raise RuntimeError(f"C-simulation stand-in failed: {r.stderr.strip()[-400:]}")
            out = np.fromfile(dst, dtype=np.uint8)
        if out.size != out_bytes:
            raise RuntimeError(f"C-simulation stand-in wrote {out.size} bytes, expected {out_bytes}")
        return out
