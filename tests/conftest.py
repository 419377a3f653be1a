import os
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
DATA = Path(os.environ.get("SQZFPGA_DATA", ROOT.parent / "shared" / "data" / "fashion-mnist"))


@pytest.fixture(scope="session")
def fmnist_dir() -> Path:
    assert any(DATA.glob("t10k-images-idx3-ubyte*")), f"Fashion-MNIST IDX files not found at {DATA}"
    return DATA


def run_cli(*args, timeout=600, **kw) -> subprocess.CompletedProcess:
    """Run `python -m sqzfpga ...` as a user would; returns the completed process."""
    return subprocess.run([sys.executable, "-m", "sqzfpga", *map(str, args)], cwd=ROOT, capture_output=True,
                          text=True, timeout=timeout, **kw)


def assert_clean_error(proc: subprocess.CompletedProcess, *needles: str) -> str:
    """A user error: non-zero exit, exactly one `error:` line on stderr, no traceback, naming the culprit."""
    assert proc.returncode != 0, proc.stdout + proc.stderr
    assert "Traceback" not in proc.stderr, proc.stderr
    lines = [ln for ln in proc.stderr.splitlines() if ln.startswith("error:")]
    assert len(lines) == 1, proc.stderr
    for needle in needles:
        assert needle in lines[0], lines[0]
    return lines[0]


@pytest.fixture(scope="session")
def default_build(tmp_path_factory):
    """The README's build (default model, xc7z020, PYNQ-Z2 package), once per worker; tests that use it
    are in the xdist group "default_build" so that one worker builds it."""
    out = tmp_path_factory.mktemp("b") / "build"
    proc = run_cli("build", "--part", "xc7z020", "--board", "pynq-z2", "--out", out, "--json")
    assert proc.returncode == 0, proc.stderr
    return out, proc
