"""A 2-trial sweep in-process, as a user runs it (`python -m sqzfpga sweep`, Ray started in the command):
the default model's family at width 0.25 on 256 training images, planned for the xc7z020 at 12,000
frames/s (reached) and at 100,000 (out of reach: does not fit). Checks the files, the Pareto logic on
what ran, and that a rerun skips the finished trials. 86 s on 2 cores at load 4.7 (trials 45-85 s each,
both at once), the rerun ~3 s."""
from __future__ import annotations

import json

from conftest import DATA, assert_clean_error, run_cli

from sqzfpga.sweep import pareto
from sqzfpga.sweep.trial import TrialResult

SPEC = f"""
[grid]
weight_bits = [4]
act_bits = [8]
width = [0.25]
part = ["xc7z020"]
fps = [12000, 100000]
[train]
data = "{DATA}"
qat_epochs = 1
limit = 256
test_limit = 200
[build]
pareto = false
"""


def test_two_trial_sweep_in_process(tmp_path):
    spec, out = tmp_path / "sweep.toml", tmp_path / "out"
    spec.write_text(SPEC)
    proc = run_cli("sweep", "--spec", spec, "--out", out, "--json", timeout=300)
    assert proc.returncode == 0, proc.stderr[-3000:]
    summary = json.loads(proc.stdout.strip().splitlines()[-1])
    ids = ["w4-a8-x0.25-xc7z020-fps12000", "w4-a8-x0.25-xc7z020-fps100000"]
    assert summary["trials"] == summary["finished"] == summary["ran"] == 2 and summary["failed"] == {}

    # one result per trial, as each finished
    results = {}
    for i in ids:
        d = json.loads((out / "trials" / f"{i}.json").read_text())
        results[i] = TrialResult.from_dict(d["result"])
        assert d["budget"]["limit"] == 256 and d["budget"]["qat_epochs"] == 1
        assert (out / "trials" / i / "model.pt").stat().st_size > 10_000
        assert "qat epoch 1/1" in (out / "trials" / f"{i}.log").read_text()
    assert sorted(line.split()[0] for line in (out / "finished.log").read_text().splitlines()) == sorted(ids)
    ok, fast = results[ids[0]], results[ids[1]]
    assert ok.fits and ok.fps >= 12000 and 0 < ok.lut_share < 1 and ok.test_images == 200
    assert not fast.fits and "100000 frames/s out of reach" in fast.note and fast.fps < 100000
    assert ok.parameters == fast.parameters < 60_000  # width 0.25 (the default has 726,474)

    # sweep.json: every trial; pareto.json: the front, by its definition, checked on what ran
    sweep = json.loads((out / "sweep.json").read_text())
    assert [t["trial"]["id"] for t in sweep["trials"]] == ids
    front = json.loads((out / "pareto.json").read_text())
    on = {p["trial"]["id"] for p in front["points"]}
    assert on == {ids[0]} and front["best"] == ids[0] == summary["best"]  # the one that does not fit is off it
    everything = [TrialResult.from_dict(t) for t in sweep["trials"]]
    for r in everything:
        beaten = any(pareto.dominates(o, r) for o in everything if o.fits)
        assert (r.trial["id"] in on) == (r.fits and not beaten)

    # the page: figure and table
    html = (out / "sweep.html").read_text()
    assert "data:image/png;base64," in html and all(i in html for i in ids)
    assert (out / "sweep" / "pareto.png").read_bytes()[:4] == b"\x89PNG"
    assert "sweep/pareto.png" in (out / "sweep.md").read_text()

    # a rerun skips the finished trials (no trial runs again, nothing rewritten)
    before = {i: (out / "trials" / f"{i}.json").stat().st_mtime_ns for i in ids}
    again = run_cli("sweep", "--spec", spec, "--out", out, "--json", timeout=120)
    assert again.returncode == 0, again.stderr[-3000:]
    assert json.loads(again.stdout.strip().splitlines()[-1])["ran"] == 0
    assert "2 finished before, 0 to run" in again.stderr
    assert before == {i: (out / "trials" / f"{i}.json").stat().st_mtime_ns for i in ids}
    assert len((out / "finished.log").read_text().splitlines()) == 2


def test_a_failing_trial_is_one_error_line_and_not_marked_finished(tmp_path):
    """A trial that raises on its worker (here: a data folder with no dataset in it) is reported with its
    own message, the sweep exits 2 after writing what it has, and no result claims the trial finished
    (a rerun runs it again). About 20 s (Ray's start and the trial's imports)."""
    (tmp_path / "empty").mkdir()
    spec = tmp_path / "sweep.toml"
    spec.write_text(SPEC.replace(str(DATA), str(tmp_path / "empty")).replace("fps = [12000, 100000]", ""))
    proc = run_cli("sweep", "--spec", spec, "--out", tmp_path / "out", timeout=180)
    assert_clean_error(proc, "1 trial(s) failed", "w4-a8-x0.25-xc7z020: dataset", "no IDX files",
                       "run the same command")
    assert not list((tmp_path / "out").glob("trials/*.json"))
    sweep = json.loads((tmp_path / "out" / "sweep.json").read_text())
    assert sweep["trials"] == [] and list(sweep["summary"]["failed"]) == ["w4-a8-x0.25-xc7z020"]
