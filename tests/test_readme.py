"""The README is executable: every command of its ```sh blocks runs as printed, as subprocesses from a
repository root with the environment activated the way the README says, reduced only in image
counts; and the project's one-line promise, `python -m sqzfpga build --part xc7z020 --json`, holds.

The commands run in a mirror of the repository root (a temporary folder of links to its entries, with
`../shared` beside it), so that the `./build` they write never replaces a developer's own."""
from __future__ import annotations

import json
import os
import re
import shlex
import subprocess
from pathlib import Path

import pytest
import torch

from conftest import DATA, ROOT, image_folder

# extra options per subcommand: image counts only (the first 64 training images hold all ten classes;
# 20 + 3 epochs over them take about a quarter of the time 256 did)
LITERAL_BUILD = "python -m sqzfpga build --part xc7z020"
REDUCED = {"train": ["--limit", "64", "--test-limit", "50"], "eval": ["--limit", "200"], "rtlsim": ["--images", "3"]}
# README commands not run here, each with the reason and what covers it instead
NOT_RUN = {"synth": "about 15 minutes of Yosys on the default design; `synth` itself is run by "
                    "benchmarks/throughput.py and Yosys on generated units by tests/test_rtl_modules.py"}


def readme_commands() -> list[str]:
    """The command lines of the README's ```sh blocks, in order (continuations joined, comments dropped)."""
    text = (ROOT / "README.md").read_text()
    cmds = []
    for indent, body in re.findall(r"^( *)```sh\n(.*?)^\1```", text, flags=re.S | re.M):
        lines = [ln[len(indent):] for ln in body.splitlines()]
        joined = re.sub(r"\\\n\s*", " ", "\n".join(lines))
        cmds += [shlex.join(shlex.split(ln, comments=True)) for ln in joined.splitlines() if ln.strip()]
    return cmds


def subcommand(cmd: str) -> str | None:
    words = shlex.split(cmd)
    return words[3] if words[:3] == ["python", "-m", "sqzfpga"] and len(words) > 3 else None


def mirror(tmp: Path) -> Path:
    """tmp/repo: links to every top-level entry of the repository but ./build; tmp/shared/data/fashion-mnist."""
    repo = tmp / "repo"
    repo.mkdir()
    for entry in ROOT.iterdir():
        if entry.name != "build":
            (repo / entry.name).symlink_to(entry)
    (tmp / "shared" / "data").mkdir(parents=True)
    (tmp / "shared" / "data" / "fashion-mnist").symlink_to(DATA)
    return repo


def user_files(repo: Path) -> None:
    """What the README tells the user to bring: torchvision's squeezenet1_1.pth and a folder of images."""
    from test_models import torchvision_state_dict

    torch.save({k: v * 0.05 for k, v in torchvision_state_dict("v1.1").items()}, repo / "squeezenet1_1.pth")
    image_folder(repo / "my-images", classes=("shoe", "bag"))


def run(repo: Path, prefix: list[str], cmd: str, timeout: float) -> subprocess.CompletedProcess:
    script = " && ".join(prefix + [cmd])
    env = {k: v for k, v in os.environ.items() if k not in ("VIRTUAL_ENV", "PYTHONHOME")}
    return subprocess.run(["bash", "-c", script], cwd=repo, env=env, capture_output=True, text=True,
                          timeout=timeout)


def last_json(stdout: str) -> dict:
    return json.loads(stdout.strip().splitlines()[-1])


def test_readme_lists_commands_that_exist():
    from sqzfpga.cli import COMMANDS

    cmds = readme_commands()
    subs = [subcommand(c) for c in cmds if subcommand(c)]
    assert {"build", "rtlsim", "plan", "synth", "train", "eval"} <= set(subs), cmds
    assert set(subs) <= set(COMMANDS), subs
    assert set(REDUCED) | set(NOT_RUN) <= set(subs)


@pytest.mark.slow
@pytest.mark.skipif(not (ROOT / ".venv" / "bin" / "activate").exists(), reason="needs the README's .venv")
def test_readme_commands_run_as_printed(tmp_path):
    """Every README command, from a copy of the repo root. Its build is the product's one-line promise,
    exactly (no --out, no --board, no --model): the README must keep printing it."""
    assert LITERAL_BUILD in readme_commands()
    repo = mirror(tmp_path)
    user_files(repo)
    prefix, ran = [], []
    for cmd in readme_commands():
        sub = subcommand(cmd)
        if sub is None:  # a set-up line (`. .venv/bin/activate`): it stays in front of every later command
            prefix.append(cmd)
            continue
        if sub in NOT_RUN:
            continue
        line = shlex.join(shlex.split(cmd) + REDUCED.get(sub, []))
        proc = run(repo, prefix, line, timeout=1200)
        assert proc.returncode == 0, f"{line}\n{proc.stdout[-2000:]}\n{proc.stderr[-3000:]}"
        assert "Traceback" not in proc.stderr, proc.stderr
        ran.append(sub)
        if sub == "build":
            summary = json.loads((repo / "build" / "build.json").read_text())
            assert summary["fits"] and summary["csim"]["exact"] and summary["csim"]["images"] == 200
            assert summary["board"] is None and (repo / "build" / "report.html").exists()
            assert Path(summary["out"]) == (repo / "build").resolve()
            assert "Traceback" not in (repo / "build" / "report.md").read_text()
        elif sub == "rtlsim":
            res = json.loads((repo / "build" / "rtlsim.json").read_text())
            assert res["exact"] and res["images"] == 3, res
        elif sub == "eval":
            assert 0.0 <= last_json(proc.stdout)["accuracy"] <= 1.0
        elif sub == "train":
            out = shlex.split(cmd)[shlex.split(cmd).index("--out") + 1]
            assert (repo / out).stat().st_size > 0
    assert ran.count("build") == 1 and "rtlsim" in ran and "plan" in ran and "eval" in ran and ran.count("train") == 3
    assert not (ROOT / "build").is_symlink()
