"""The sweep spec and the Pareto front, without running a trial (about 10 s): every bad spec is one
`error:` line from the CLI that names the key; a good one is the grid's product; the front keeps
exactly the fitting trials that no other fitting trial beats on accuracy and frames/s."""
from __future__ import annotations

import socket
from pathlib import Path

import pytest
from conftest import DATA, ROOT, assert_clean_error, run_cli

from sqzfpga.errors import UserError
from sqzfpga.sweep import pareto, spec
from sqzfpga.sweep.trial import TrialResult

GOOD = f"""
[grid]
weight_bits = [2, 3, 4, 8]
act_bits = [8]
width = [0.5, 0.75, 1.0]
part = ["xc7z020"]
[train]
data = "{DATA}"
qat_epochs = 1
"""


def write(tmp_path: Path, text: str) -> Path:
    path = tmp_path / "sweep.toml"
    path.write_text(text)
    return path


def test_good_spec_is_the_grid_product(tmp_path):
    s = spec.load(write(tmp_path, GOOD + '[grid.layer_act_bits]\n"fire*.squeeze" = [4, 8]\n'))
    assert len(s.trials) == 4 * 3 * 2
    assert len({t.id for t in s.trials}) == 24
    t = next(t for t in s.trials
             if t.weight_bits == 3 and t.width == 0.75 and dict(t.layer_act_bits)["fire*.squeeze"] == 4)
    assert t.id == "w3-a8-x0.75-xc7z020-fire_.squeeze4"
    cfg = t.config()
    assert cfg.width_mult == 0.75 and cfg.weight_bits == 3 and cfg.weight_bits_of("conv1") == 8
    assert cfg.act_bits_of("fire2.squeeze") == 4 and cfg.act_bits_of("fire2.expand") == 8
    assert s.train.qat_epochs == 1 and s.build.pareto and s.engine.retries == 3


@pytest.mark.parametrize("edit, needles", [
    (lambda t: t.replace("qat_epochs = 1", "qat_epochs = 1\nepochs = 3"), ["unknown key 'epochs' in [train]"]),
    (lambda t: t.replace("act_bits = [8]", "act_bits = []"), ["[grid] act_bits is empty"]),
    (lambda t: t.replace("[2, 3, 4, 8]", "[2, 9]"), ["[grid] weight_bits: 9 is out of range", "2..8"]),
    (lambda t: t.replace('["xc7z020"]', '["xc7z020", "xc7z999"]'), ["[grid] part: 'xc7z999'", "xc7z020"]),
    (lambda t: t + "[search]\nmode = 'random'\n", ["unknown section [search]"]),
    (lambda t: t.replace(str(DATA), "/no/such/data"), ["[train] data = '/no/such/data': no such folder"]),
])
def test_bad_spec_is_one_error_line(tmp_path, edit, needles):
    assert len(spec.load(write(tmp_path, GOOD)).trials) == 12  # unedited, the same spec is accepted
    path = write(tmp_path, edit(GOOD))
    with pytest.raises(UserError):
        spec.load(path)
    proc = run_cli("sweep", "--spec", path, "--out", tmp_path / "out", timeout=120)
    line = assert_clean_error(proc, str(path), *needles)
    assert proc.returncode == 2, line
    assert not (tmp_path / "out" / "sweep.json").exists()


def result(name: str, accuracy: float, fps: float | None, fits: bool = True) -> TrialResult:
    return TrialResult(trial={"id": name}, accuracy=accuracy, test_images=100, fits=fits, fps=fps,
                       cycles_per_frame=None, clock_mhz=100.0, bottleneck=None, lut=1.0, ff=1.0, bram36=1.0, dsp=1.0,
                       lut_share=0.5, note="", parameters=1, seconds=1.0, host="h", pid=1)


def test_pareto_front():
    rs = [result("slow-accurate", 0.93, 1000), result("fast-rough", 0.80, 9000), result("middle", 0.90, 4000),
          result("dominated", 0.85, 3000),  # middle is better on both
          result("tie-a", 0.70, 9000),  # fast-rough is as fast and more accurate
          result("too-big", 0.99, 99999, fits=False), result("no-plan", 0.95, None, fits=False)]
    front = pareto.front(rs)
    assert [r.trial["id"] for r in front] == ["fast-rough", "middle", "slow-accurate"]
    assert pareto.best(front).trial["id"] == "slow-accurate"
    assert pareto.dominates(rs[2], rs[3]) and not pareto.dominates(rs[3], rs[2])
    assert not pareto.dominates(rs[0], rs[0])  # equal points do not dominate each other
    assert pareto.front([result("x", 0.5, 10, fits=False)]) == [] and pareto.best([]) is None


def test_address_without_a_cluster_is_one_error_line(tmp_path):
    with socket.socket() as s:  # a port nothing listens on
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    proc = run_cli("sweep", "--spec", write(tmp_path, GOOD), "--out", tmp_path / "out", "--address",
                   f"127.0.0.1:{port}", timeout=120)
    assert_clean_error(proc, f"--address 127.0.0.1:{port}: no Ray cluster answers there", "ray start --head")
    assert not list((tmp_path / "out").glob("trials/*.json"))


def test_example_spec_parses_from_the_repo_root(monkeypatch):
    monkeypatch.chdir(ROOT)
    s = spec.load(ROOT / "examples" / "sweep.toml")
    assert [t.id for t in s.trials] == ["w4-a8-x0.5-xc7z020", "w4-a8-x1-xc7z020", "w8-a8-x0.5-xc7z020",
                                        "w8-a8-x1-xc7z020"]
    assert s.train.data == (ROOT.parent / "shared" / "data" / "fashion-mnist").resolve() and s.build.pareto
