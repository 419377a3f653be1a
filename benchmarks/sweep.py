"""The issue's design-space sweep for the xc7z020: weights 2/3/4/8 bits x width 0.5/0.75/1.0 (12 trials,
8-bit activations, conv1 and the classifier at 8 bits as in the default), each one QAT epoch from the
float weights of the shipped default model, then the Pareto front of accuracy against the plan's
frames/s, each front point built (C simulation exact). Writes the spec and runs the `sweep` command
as a user runs it; the folder holds sweep.json, pareto.json, the page and the builds.

    .venv/bin/python benchmarks/sweep.py [--limit N] [--test-limit N] [--qat-lr 1e-3] [--no-build]
                                         [--address HOST:PORT] [--out DIR] [--json]

--limit takes the first N training images for the epoch (default: all 60,000); a rerun with the same
options skips finished trials (`sweep` resumes), so a run stopped part-way continues where it was.
"""
from __future__ import annotations

import argparse
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
WORK = ROOT / "benchmarks" / "out" / "sweep"
DATA = ROOT.parent / "shared" / "data" / "fashion-mnist"


def spec(a) -> str:
    train = "".join(f"{k} = {v}\n" for k, v in (("limit", a.limit), ("test_limit", a.test_limit)) if v)
    return (f"[grid]\nweight_bits = [2, 3, 4, 8]\nact_bits = [8]\nwidth = [0.5, 0.75, 1.0]\npart = [\"xc7z020\"]\n"
            f"[train]\ndata = \"{a.data}\"\nqat_epochs = 1\nqat_lr = {a.qat_lr}\n{train}"
            f"[build]\npareto = {'false' if a.no_build else 'true'}\nimages = {a.images}\n")


def main() -> int:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--out", type=Path, default=WORK)
    p.add_argument("--data", type=Path, default=DATA)
    p.add_argument("--limit", type=int, help="training images per QAT epoch (default: all)")
    p.add_argument("--test-limit", type=int, help="test images (default: all 10,000)")
    p.add_argument("--qat-lr", type=float, default=1e-3, help="QAT learning rate (default 1e-3: a narrowed or "
                   "fewer-bit network moves further from its initial weights than `train`'s 1e-4 allows in one "
                   "epoch)")
    p.add_argument("--images", type=int, default=200, help="C-simulation images of each Pareto build")
    p.add_argument("--no-build", action="store_true", help="do not build the Pareto points")
    p.add_argument("--address", help="a running Ray cluster to use (default: Ray started by the command)")
    p.add_argument("--json", action="store_true", help="print the sweep's one-line JSON summary last")
    a = p.parse_args()
    a.out.mkdir(parents=True, exist_ok=True)
    path = a.out / "sweep.toml"
    path.write_text(spec(a))
    cmd = [sys.executable, "-m", "sqzfpga", "sweep", "--spec", str(path), "--out", str(a.out)]
    cmd += ["--address", a.address] if a.address else []
    cmd += ["--json"] if a.json else []
    return subprocess.run(cmd, cwd=ROOT).returncode


if __name__ == "__main__":
    sys.exit(main())
