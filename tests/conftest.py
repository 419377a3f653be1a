import os
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
DATA = Path(os.environ.get("SQZFPGA_DATA", ROOT.parent / "shared" / "data" / "fashion-mnist"))

if "PYTEST_XDIST_WORKER_COUNT" in os.environ:  # set by xdist before this file is imported, so before torch is
    # The workers share the cores: each (and every command it runs) gets its share of torch's OpenMP
    # threads. With more threads than cores, every torch op waits for a descheduled thread: on a loaded
    # 2-core machine a 64-image training epoch took 26-55 s with 2 threads, 4-6 s with 1.
    os.environ.setdefault("OMP_NUM_THREADS",
                          str(max(1, (os.cpu_count() or 1) // int(os.environ["PYTEST_XDIST_WORKER_COUNT"]))))


def pytest_configure(config):
    config.addinivalue_line("markers", "slow: about a minute or more in CI; collected first (see below)")


def pytest_collection_modifyitems(items):
    """Slow tests first, otherwise in file order. `-n 2 --dist loadgroup` hands out the xdist groups
    largest first, then single tests in collection order as workers run dry: a long test collected
    late would run alone at the end while the other worker idles."""
    items.sort(key=lambda item: item.get_closest_marker("slow") is None)


@pytest.fixture(scope="session")
def fmnist_dir() -> Path:
    assert any(DATA.glob("t10k-images-idx3-ubyte*")), f"Fashion-MNIST IDX files not found at {DATA}"
    return DATA


def as_from_a_terminal() -> None:
    """Popen preexec_fn: the child's SIGINT and SIGTERM as a shell in a terminal gives them (default
    disposition, not blocked), whatever the test worker inherited or blocked; a Ctrl-C test otherwise
    depends on the worker: in CI one built to the end through its SIGINT."""
    import signal

    for sig in (signal.SIGINT, signal.SIGTERM):
        signal.signal(sig, signal.SIG_DFL)
    signal.pthread_sigmask(signal.SIG_UNBLOCK, {signal.SIGINT, signal.SIGTERM})


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


def image_folder(root: Path, classes=("a", "b"), per_class: int = 4, size: int = 64) -> Path:
    """A dataset as users bring one: random RGB PNGs, one sub-folder per class under train/ and test/."""
    import numpy as np
    from PIL import Image

    rng = np.random.default_rng(0)
    for split in ("train", "test"):
        for cls in classes:
            (root / split / cls).mkdir(parents=True)
            for i in range(per_class):
                pixels = rng.integers(0, 256, (size, size, 3), dtype=np.uint8)
                Image.fromarray(pixels).save(root / split / cls / f"{i}.png")
    return root


def script_folder(build: Path, folder: Path) -> Path:
    """`folder` set up for `deploy.scripts.write` over a shared build: rtl/ linked, hls/ a folder of links
    to the build's hls entries, so the hls/export_ip.tcl the scripts write lands here, not in the build."""
    folder.mkdir(parents=True, exist_ok=True)
    (folder / "rtl").symlink_to(build / "rtl")
    (folder / "hls").mkdir()
    for entry in (build / "hls").iterdir():
        if entry.name != "export_ip.tcl":
            (folder / "hls" / entry.name).symlink_to(entry)
    return folder
