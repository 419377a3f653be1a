"""A 4-trial sweep on a real multi-process Ray cluster on 127.0.0.1, started as Ray's CLI starts one (a
head with no CPUs, one worker node), joined with `sweep --address`. Once the first result is on disk,
while a trial runs on the worker, the worker node is killed (SIGKILL to every process of its session:
its raylet and the processes running trials) and a second one started: every trial finishes exactly once,
its result on disk, the ones in flight retried on the new node. 3 min 33 s on the 2 cores at load 8, 4 min
23 s at load 10 (not timed on an idle machine): a trial costs 30-110 s there (the QONNX export's
channels-last pass is most of its plan), and six ran."""
from __future__ import annotations

import json
import os
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import pytest
from conftest import DATA, ROOT

RAY = Path(sys.executable).parent / "ray"
SPEC = f"""
[grid]
weight_bits = [4, 8]
act_bits = [8]
width = [0.25]
part = ["xc7z020"]
fps = [12000, 100000]
[train]
data = "{DATA}"
qat_epochs = 1
limit = 128
test_limit = 100
[build]
pareto = false
[engine]
retries = 3
trial_timeout_s = 300
"""


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def session_of(sid: int) -> dict[int, str]:
    """pid -> command line of every process of the session `sid` (a node: `ray start --block`, its raylet and
    the worker processes the raylet starts, each in a process group of its own)."""
    ps = subprocess.run(["ps", "-eo", "pid=,sid=,args="], capture_output=True, text=True, timeout=30).stdout
    return {int(p): cmd for p, s, cmd in (line.split(None, 2) for line in ps.splitlines() if line.strip())
            if int(s) == sid}


def kill_node(p: subprocess.Popen) -> None:
    for pid in session_of(p.pid):
        try:
            os.kill(pid, signal.SIGKILL)
        except ProcessLookupError:
            pass
    p.wait(timeout=30)


@pytest.fixture
def cluster(tmp_path):
    """A head node (no CPUs: trials run on worker nodes only) on a free port; `worker(cpus)` adds a node.
    Every node is `ray start --block` in its own session, so that killing the session's processes kills
    the node whole; the finaliser kills every session this fixture started (never `ray stop`, which would stop
    other clusters on the machine)."""
    temp = tempfile.mkdtemp(prefix="sqzray", dir="/tmp")  # short: Ray's unix sockets live under it
    env = dict(os.environ, RAY_AUTH_MODE="disabled", PYTHONPATH=f"{ROOT}{os.pathsep}{os.environ.get('PYTHONPATH', '')}",
               # a dead node is noticed in about 2 s rather than 30
               RAY_health_check_initial_delay_ms="500", RAY_health_check_period_ms="500",
               RAY_health_check_timeout_ms="1000", RAY_health_check_failure_threshold="3")
    port = free_port()
    started: list[subprocess.Popen] = []

    def start(name: str, *args) -> subprocess.Popen:
        log = open(tmp_path / f"{name}.log", "w")
        p = subprocess.Popen([str(RAY), "start", *args, "--node-ip-address", "127.0.0.1", "--disable-usage-stats",
                              "--block"], env=env, start_new_session=True, stdout=log, stderr=subprocess.STDOUT)
        started.append(p)
        return p

    start("head", "--head", "--port", str(port), "--num-cpus", "0", "--temp-dir", temp, "--include-dashboard", "false")
    deadline = time.time() + 90
    while True:
        try:
            socket.create_connection(("127.0.0.1", port), timeout=2).close()
            break
        except OSError:
            assert time.time() < deadline, (tmp_path / "head.log").read_text()[-3000:]
            time.sleep(0.5)
    try:
        yield {"address": f"127.0.0.1:{port}", "env": env,
               "worker": lambda name, cpus: start(name, "--address", f"127.0.0.1:{port}", "--num-cpus", str(cpus))}
    finally:
        for p in started:
            kill_node(p)
        shutil.rmtree(temp, ignore_errors=True)


@pytest.mark.slow
def test_killed_worker_trials_are_retried_and_finish_once(cluster, tmp_path):
    spec, out = tmp_path / "sweep.toml", tmp_path / "out"
    spec.write_text(SPEC)
    first = cluster["worker"]("worker1", 2)
    sweep = subprocess.Popen([sys.executable, "-m", "sqzfpga", "sweep", "--spec", str(spec), "--out", str(out),
                              "--address", cluster["address"], "--json"], cwd=ROOT, env=cluster["env"],
                             stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    try:
        # the first result on disk, and a trial running on the worker node (Ray titles its process ray::run)
        deadline = time.time() + 240
        while not (list((out / "trials").glob("*.json")) and
                   any(cmd.startswith("ray::run") for cmd in session_of(first.pid).values())):
            assert sweep.poll() is None, sweep.communicate()[1][-3000:]
            assert time.time() < deadline, "no trial finished on the first worker node in 240 s"
            time.sleep(0.3)
        before = {p.stem for p in (out / "trials").glob("*.json")}
        first_pids = set(session_of(first.pid))
        kill_node(first)
        cluster["worker"]("worker2", 4)  # the retries run here
        stdout, stderr = sweep.communicate(timeout=300)
    finally:
        if sweep.poll() is None:
            sweep.kill()
            sweep.wait(timeout=30)
    assert sweep.returncode == 0, stderr[-3000:]
    summary = json.loads(stdout.strip().splitlines()[-1])
    assert summary["finished"] == summary["trials"] == 4 and summary["failed"] == {}

    finished = [line.split() for line in (out / "finished.log").read_text().splitlines()]
    ids = [f[0] for f in finished]
    assert sorted(ids) == sorted(set(ids)) and len(ids) == 4  # each trial finished exactly once
    assert 1 <= len(before) < 4  # some finished before the kill, some after
    for trial_id, _, pid, _ in finished:
        result = json.loads((out / "trials" / f"{trial_id}.json").read_text())["result"]
        assert result["pid"] == int(pid) and (out / "trials" / trial_id / "model.pt").exists()
        # finished before the kill: on the first node; after it: on the second (retried there)
        assert (int(pid) in first_pids) == (trial_id in before), (trial_id, pid, before)
    sweep_json = json.loads((out / "sweep.json").read_text())
    assert sorted(t["trial"]["id"] for t in sweep_json["trials"]) == sorted(ids)
