"""Crash-safe builds: a build killed at any step leaves the previous build as it was, and no folder
that looks like a finished build."""
import hashlib
import signal
import subprocess
import sys
import time

import pytest

from conftest import ROOT, as_from_a_terminal

pytestmark = pytest.mark.xdist_group("default_build")


def _digest(folder) -> str:
    h = hashlib.sha256()
    for p in sorted(folder.rglob("*")):
        h.update(str(p.relative_to(folder)).encode())
        if p.is_file():
            h.update(p.read_bytes())
    return h.hexdigest()


@pytest.mark.parametrize("step,sig", [("hls", signal.SIGTERM), ("csim", signal.SIGINT)])
def test_build_killed_mid_way_keeps_previous_build(default_build, step, sig):
    """Rebuild the default build from its own QONNX, kill it once it reports `step`: the previous
    build is bit-identical afterwards and no partial folder is left beside it."""
    out, _ = default_build
    before = _digest(out)
    proc = subprocess.Popen([sys.executable, "-m", "sqzfpga", "build", "--model", str(out / "model.onnx"),
                             "--out", str(out), "--board", "pynq-z2"], cwd=ROOT, stderr=subprocess.PIPE,
                            stdout=subprocess.DEVNULL, text=True, preexec_fn=as_from_a_terminal)
    seen = []
    for line in proc.stderr:
        seen.append(line)
        if line.startswith(f"[build] {step} ..."):
            time.sleep(1.0)  # inside the step
            proc.send_signal(sig)
            break
    rest = proc.stderr.read()
    rc = proc.wait(timeout=120)
    assert rc == (143 if sig == signal.SIGTERM else 130), "".join(seen) + rest
    assert "Traceback" not in rest
    assert [ln for ln in rest.splitlines() if ln.startswith("error:")] == [
        f"error: {'terminated' if sig == signal.SIGTERM else 'interrupted'}; checkpoints and build folders written "
        "before are intact (nothing half-written replaced them)"]
    assert _digest(out) == before
    assert not [p.name for p in out.parent.iterdir() if p.name.startswith(f".{out.name}.")]
