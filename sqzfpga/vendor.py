"""Running a vendor tool (Vitis HLS, Vivado HLS, Vivado) the way its vendor documents it: in its
folder, with a time limit, its output kept in `<folder>/logs/<tool>.log`, and any failure (non-zero
exit, time limit, an output it should have written missing) reported as one line that names the tool,
the exit status, the tool's own reason where it printed one, and the log.

Used by the build's HLS step and by the Vivado flow (deploy/package.py), so both fail the same way.
"""
from __future__ import annotations

import os
import shutil
import signal
import subprocess
from pathlib import Path

from sqzfpga.errors import UserError

HLS_TIMEOUT_S = 12 * 3600  # a SqueezeNet C synthesis + export takes tens of minutes to hours
VIVADO_TIMEOUT_S = 24 * 3600  # block design, synthesis, place and route of a full xc7z020


class ToolFailed(UserError):
    """A vendor tool failed; the build keeps its partial folder so that the log named here exists."""


def hls_argv(script: str) -> list[str]:
    """Vitis HLS running a Tcl script: `vitis-run --mode hls --tcl` (Vitis 2023.2 and later; what
    hls4ml's VitisBackend.build runs), or `vitis_hls -f` where only the older tool is on PATH."""
    if shutil.which("vitis-run") is None and shutil.which("vitis_hls") is not None:
        return ["vitis_hls", "-f", script]
    return ["vitis-run", "--mode", "hls", "--tcl", script]


def log_path(cwd: Path, argv: list[str]) -> Path:
    return cwd / "logs" / f"{Path(argv[0]).name}.log"


def run(argv: list[str], cwd: Path, timeout: float, produces: tuple[str, ...] = (), log=print) -> Path:
    """Run `argv` in `cwd` (stdout and stderr into the log, no terminal input); the log's path.
    `produces`: paths relative to `cwd` the tool must have written."""
    path = log_path(cwd, argv)
    path.parent.mkdir(exist_ok=True)
    log(f"[build] {' '.join(argv)} (in {cwd}, log {path}) ...")
    with open(path, "w") as out:
        try:
            proc = subprocess.Popen(argv, cwd=cwd, stdout=out, stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL,
                                    start_new_session=True)  # its own process group: stopped as a whole
        except OSError as e:
            raise ToolFailed(f"{argv[0]}: cannot be started ({e.strerror}); check the tool's installation") from None
        try:
            rc = proc.wait(timeout=timeout)
        except subprocess.TimeoutExpired:
            _stop(proc)
            raise ToolFailed(f"{argv[0]} ran past its time limit ({timeout:g} s) in {cwd} and was stopped; "
                             f"see {path}") from None
        except BaseException:
            _stop(proc)
            raise
    if rc != 0:
        raise ToolFailed(f"{argv[0]} failed (exit {rc}){_reason(path)}; see {path}")
    missing = [p for p in produces if not (cwd / p).exists()]
    if missing:
        raise ToolFailed(f"{argv[0]} exited 0 but did not write {os.path.normpath(cwd / missing[0])}{_reason(path)}; "
                         f"see {path}")
    return path


def _stop(proc: subprocess.Popen) -> None:
    """SIGTERM to the tool's process group (Vivado starts children), SIGKILL if it lingers."""
    for sig, wait in ((signal.SIGTERM, 10), (signal.SIGKILL, 10)):
        try:
            os.killpg(proc.pid, sig)
        except ProcessLookupError:
            return
        try:
            proc.wait(timeout=wait)
            return
        except subprocess.TimeoutExpired:
            continue


def _reason(path: Path) -> str:
    """The tool's own one-line reason from its log: our scripts' last `sqzfpga:` line, else the first
    `ERROR:` line (the Xilinx tools' convention); empty if neither."""
    try:
        lines = [ln.strip() for ln in path.read_text(errors="replace").splitlines()]
    except OSError:
        return ""
    ours = [ln for ln in lines if ln.startswith("sqzfpga: ")]
    errors = [ln for ln in lines if ln.startswith("ERROR:")]
    text = ours[-1] if ours else errors[0] if errors else ""
    return f": {text[:400]}" if text else ""
