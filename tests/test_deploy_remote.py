"""Deploy's board end. `--dest` may only be absent, empty or an earlier sqzfpga package: hostile values
against a real OpenSSH server (throw-away user and home) are refused with one line and the user's files
stay byte for byte; the copy's swap is atomic (land.py, the code the board runs). The C-simulation stand-in
ships as sources and compiles on first use on the target, from a fresh folder."""
import io
import json
import os
import platform
import shutil
import subprocess
import sys
import tarfile
import tempfile
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import pytest

from conftest import assert_clean_error, run_cli
from sqzfpga.deploy import land
from sqzfpga.driver import standin
from sshd import ssh_server

pytestmark = pytest.mark.xdist_group("default_build")

WEIRD = "it's a \"dir\" $(touch pwned) `touch pwned2`; touch pwned3"


def _snapshot(*roots: Path) -> dict:
    """Every entry under `roots`: files by content, links by target, folders by name."""
    snap = {}
    for root in roots:
        for dirpath, dirs, files in os.walk(root):
            for n in dirs + files:
                p = Path(dirpath, n)
                snap[str(p)] = (("link", os.readlink(p)) if p.is_symlink() else ("dir",) if p.is_dir() else
                                p.read_bytes())
    return snap


def _chown(root: Path, uid: int) -> None:
    for dirpath, dirs, files in os.walk(root):
        for n in dirs + files:
            os.lchown(Path(dirpath, n), uid, uid)


def test_deploy_refuses_destinations_it_did_not_create(default_build, tmp_path):
    """Acceptance: hostile --dest values are refused with one error line, before anything is touched on the
    board (canaries in the throw-away home, a folder outside it behind a symlink), nothing is run there."""
    out, _ = default_build
    outside = Path(tempfile.mkdtemp(prefix="sqzfpga-outside-", dir="/tmp"))
    try:
        outside.chmod(0o755)
        (outside / "secret.txt").write_text("outside the home\n")
        with ssh_server(tmp_path / "ssh") as (cfg, host, home):
            (home / "Documents").mkdir()
            (home / "Documents" / "thesis.tex").write_text("years of work\n")
            (home / WEIRD).mkdir()
            (home / WEIRD / "notes.txt").write_text("mine\n")
            (home / "file.txt").write_text("a file\n")
            (home / "out").symlink_to(outside)
            (home / "fake").mkdir()  # an earlier package that a user has put a file into
            (home / "fake" / land.MARKER).write_text(json.dumps({"sqzfpga_deploy": 1, "files": ["accel.json"]}))
            (home / "fake" / "accel.json").write_text("{}\n")
            (home / "fake" / "results.csv").write_text("the user's results\n")
            (home / "badmarker").mkdir()
            (home / "badmarker" / land.MARKER).write_text("not json\n")
            _chown(home, home.stat().st_uid)
            before = _snapshot(home, outside)
            refused_here = ["", " ", "~", "~/", "/", ".", "..", "a/../../b", "~root/x"]
            why = "is a folder with files in it and no .sqzfpga-deploy file"
            refused_there = {"Documents": why, "~/Documents": why, str(home / "Documents"): why, WEIRD: why,
                             "file.txt": "is a file", "out": "symbolic link", "out/sub": "symbolic link",
                             str(outside): why, "fake": "holds files that it did not bring (results.csv)",
                             "badmarker": "not an sqzfpga marker", str(home): "home folder",
                             "/tmp": "above the home folder"}
            with ThreadPoolExecutor(4) as pool:  # independent runs: in parallel, to keep the test short
                procs = dict(zip(dests := refused_here + list(refused_there), pool.map(lambda d: run_cli(
                    "deploy", "--build", out, "--host", host, "--ssh-config", cfg, "--csim", "--dest", d,
                    timeout=120), dests)))
            assert _snapshot(home, outside) == before
            for dest, proc in procs.items():
                line = assert_clean_error(proc, "--dest")
                assert proc.returncode == 2 and "validate.py" not in proc.stderr, (dest, proc.stderr)
                if dest in refused_there:
                    assert "expected an absent folder, an empty one, or an earlier sqzfpga package" in line, line
                    assert line.startswith(f"error: host {host}: --dest {dest.removeprefix('~/')} ("), line
                    assert refused_there[dest] in line, line
            after = sorted(p.name for p in home.iterdir())
    finally:
        shutil.rmtree(outside)
    assert not any(n.startswith("pwned") for n in after) and not any(".partial-" in n or ".old-" in n for n in after)


def _tgz(files: dict) -> bytes:
    buf = io.BytesIO()
    with tarfile.open(fileobj=buf, mode="w:gz") as tar:
        for name, data in files.items():
            info = tarfile.TarInfo(name)
            info.size = len(data)
            tar.addfile(info, io.BytesIO(data))
    return buf.getvalue()


def test_land_swaps_atomically(tmp_path):
    """land.py (what the board runs): a truncated or hostile package leaves the earlier one byte for byte and
    no partial copy; a complete one replaces it, keeping the compiled stand-in (the scratch folder)."""
    marker = json.dumps({"sqzfpga_deploy": 1, "scratch": ["csim/compiled"]}).encode()
    dest = tmp_path / "pkg"
    land.land(str(dest), io.BytesIO(_tgz({land.MARKER: marker, "accel.json": b"1", "csim/recipe.json": b"r"})))
    assert json.loads((dest / land.MARKER).read_text())["files"] == ["accel.json", "csim/recipe.json"]
    (dest / "csim" / "compiled" / "x86_64-1").mkdir(parents=True)
    (dest / "csim" / "compiled" / "x86_64-1" / "exe").write_bytes(b"compiled")
    (dest / "__pycache__").mkdir()
    before = _snapshot(tmp_path)
    big = _tgz({land.MARKER: marker, "accel.json": b"2", "csim/recipe.json": b"r2", "samples.npz": os.urandom(300_000)})
    for bad in (big[: len(big) // 2], _tgz({"../evil": b"x"}), _tgz({"/abs": b"x"})):
        with pytest.raises((tarfile.TarError, EOFError, ValueError)):
            land.land(str(dest), io.BytesIO(bad))
        assert _snapshot(tmp_path) == before
    land.land(str(dest), io.BytesIO(big))
    assert (dest / "accel.json").read_bytes() == b"2" and (dest / "csim" / "recipe.json").read_bytes() == b"r2"
    assert (dest / "csim" / "compiled" / "x86_64-1" / "exe").read_bytes() == b"compiled"
    assert sorted(p.name for p in tmp_path.iterdir()) == ["pkg"]
    (dest / "results.csv").write_text("mine\n")  # a user's file in the package: no longer replaceable
    with pytest.raises(land.Refused, match="results.csv"):
        land.land(str(dest), io.BytesIO(big))
    assert (dest / "results.csv").read_text() == "mine\n"


def _validate(dep: Path, *args, env=None) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "validate.py", "--csim", *args], cwd=dep, capture_output=True, text=True,
                          timeout=900, env=env)


def test_standin_compiles_from_shipped_sources(default_build, tmp_path):
    """Acceptance: the shipped package (deploy.tar.gz) holds no binary; unpacked in a fresh folder, the first
    `validate.py --csim` compiles the stand-in there (and says so), is exact, and later runs reuse it.
    Without g++, or with a broken source: one error line naming the fix or the log."""
    out, _ = default_build
    with tarfile.open(out / "deploy.tar.gz") as tar:
        members = tar.getmembers()
        elf = [m.name for m in members if m.isfile() and tar.extractfile(m).read(4) == b"\x7fELF"]
        tar.extractall(tmp_path)
    assert elf == [] and not [m.name for m in members if "/compiled" in m.name or "__pycache__" in m.name]
    dep = tmp_path / "deploy"
    broken = tmp_path / "broken"
    shutil.copytree(dep, broken)
    assert_clean_error(_validate(dep, env={**os.environ, "PATH": str(tmp_path / "no-bin")}), "g++ not found",
                       "apt-get install g++")
    with pytest.raises(standin.StandinError, match=r"longer than 0.5 s and was stopped; see .*compile.log"):
        standin.compile_sources(dep / "csim", timeout=0.5, say=lambda m: None)
    r = _validate(dep, "--images", "8", "--json")
    assert r.returncode == 0, r.stderr
    assert json.loads(r.stdout.strip().splitlines()[-1])["exact"] is True
    assert "compiling the C-simulation stand-in on this machine (about" in r.stderr
    exes = list((dep / "csim" / "compiled").glob("*/sqznet_axis_csim"))
    assert len(exes) == 1 and exes[0].parent.name.startswith(platform.machine() + "-")
    r = _validate(dep, "--images", "2", "--json")
    assert r.returncode == 0 and "compiling" not in r.stderr and json.loads(r.stdout.splitlines()[-1])["exact"]
    hdr = broken / "csim" / "src" / "firmware" / "ap_types" / "ap_int.h"
    hdr.write_text('#include "a_broken_source.h"\n' + hdr.read_text())  # fatal at once: a quick failure
    line = assert_clean_error(_validate(broken), "compiling the C-simulation stand-in failed", "compile.log")
    log = Path(line.split("see ")[-1])
    assert log.is_file() and "a_broken_source.h" in log.read_text()
