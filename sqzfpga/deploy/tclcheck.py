"""Checks a generated Tcl script with tclsh, Vivado commands stubbed (see tclcheck.tcl); returns the
Vivado calls it makes, so tests can compare the names in it with what the generators wrote."""
from __future__ import annotations

import shutil
import subprocess
from pathlib import Path


CHECKER = Path(__file__).with_name("tclcheck.tcl")


def available() -> bool:
    return shutil.which("tclsh") is not None


def check(script: Path) -> list[list[str]]:
    """Run `script` through the checker: [[command, arg, ...], ...] of its Vivado calls (sourced files
    included); raises RuntimeError with tclsh's message if it does not parse or run."""
    r = subprocess.run(["tclsh", str(CHECKER), str(script)], capture_output=True, text=True, timeout=60)
    if r.returncode != 0:
        raise RuntimeError(r.stderr.strip())
    return [[_unescape(w) for w in line.split("\t")[1:]] for line in r.stdout.splitlines()
            if line.startswith("CALL\t")]


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
