"""Checks a generated Tcl script with tclsh, Vivado commands stubbed (see tclcheck.tcl); returns the
Vivado calls it makes, so tests can compare the names in it with what the generators wrote."""
from __future__ import annotations

import shutil
import subprocess
from pathlib import Path


CHECKER = Path(__file__).with_name("tclcheck.tcl")


def available() -> bool:
    return shutil.which("tclsh") is not None


class TclCheckError(RuntimeError):
    """The script failed under the checker; `calls` are the Vivado calls it made before it stopped."""

    def __init__(self, message: str, calls: list[list[str]]):
        super().__init__(message)
        self.calls = calls


def check(script: Path, returns: dict[str, str] | None = None) -> list[list[str]]:
    """Run `script` through the checker: [[command, arg, ...], ...] of its Vivado calls (sourced files
    included); raises TclCheckError with tclsh's message if it does not parse or run (or stops with
    an error of its own). `returns`: what a stub returns, by "COMMAND" or "COMMAND FIRST-WORD"."""
    extra = [w for kv in (returns or {}).items() for w in kv]
    r = subprocess.run(["tclsh", str(CHECKER), str(script), *extra], capture_output=True, text=True, timeout=60)
    calls = [[_unescape(w) for w in line.split("\t")[1:]] for line in r.stdout.splitlines()
             if line.startswith("CALL\t")]
    if r.returncode != 0:
        raise TclCheckError(r.stderr.strip(), calls)
    return calls


def _unescape(word: str) -> str:
    out, i = [], 0
    while i < len(word):
        if word[i] == "\\" and i + 1 < len(word):
            out.append({"t": "\t", "n": "\n"}.get(word[i + 1], word[i + 1]))
            i += 2
        else:
            out.append(word[i])
            i += 1
    return "".join(out)


def check_all(scripts: list[Path]) -> dict[str, list[list[str]]]:
    """Each script checked; a failure is a bug in sqzfpga's templates."""
    calls = {}
    for script in scripts:
        try:
            calls[script.name] = check(script)
        except RuntimeError as e:
            raise RuntimeError(f"generated Tcl does not check: {e}") from None
    return calls
