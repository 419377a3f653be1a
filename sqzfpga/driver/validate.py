"""Validate the accelerator on the board: runs the packaged sample images, compares every output with
the C simulation's (bit for bit) and the labels (accuracy), and measures frames/s.

    python3 validate.py [--csim] [--images N] [--json]

--csim runs the C-simulation stand-in instead of the bitstream (any Linux PC with the package).
Exit status 0 only when every output equals the C simulation's.
"""
from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

import numpy as np

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE))
try:
    from sqzfpga_driver.driver import Accelerator  # inside the deployment package
except ImportError:  # run from the sqzfpga sources
    from sqzfpga.driver.driver import Accelerator


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--csim", action="store_true", help="use the C-simulation stand-in instead of the bitstream")
    ap.add_argument("--images", type=int, default=None, help="how many of the packaged images (default: all)")
    ap.add_argument("--json", action="store_true", help="print one JSON summary line last")
    args = ap.parse_args(argv)
    samples = np.load(HERE / "samples.npz")
    n = len(samples["images"]) if args.images is None else max(1, min(args.images, len(samples["images"])))
    images, expected = samples["images"][:n], samples["expected"][:n]
    labels = samples["labels"][:n] if "labels" in samples.files else None
    try:
        acc = Accelerator.open(HERE, csim=args.csim)
        raw = acc.run(images)
    except Exception as e:  # one line, no traceback: this runs unattended over SSH
        print(f"error: {type(e).__name__}: {e}", file=sys.stderr)
        return 2
    classes = raw.argmax(1)
    bad = int(np.sum(raw != expected.reshape(raw.shape)))
    res = {"backend": "csim" if args.csim else "pynq", "board": acc.meta["board"], "images": n,
           "exact": bad == 0, "mismatching_values": bad,
           "accuracy": None if labels is None else round(float(np.mean(classes == labels)), 4),
           "fps": None if acc.fps is None else round(acc.fps, 1)}
    verdict = ("every output equals the C simulation" if bad == 0 else
               f"{bad} output values differ from the C simulation")
    print(f"{n} images on the {res['backend']} accelerator: {verdict}; accuracy {res['accuracy']}; "
          f"{res['fps']} frames/s")
    if args.json:
        print(json.dumps(res))
    return 0 if bad == 0 else 1


if __name__ == "__main__":
    sys.exit(main())
