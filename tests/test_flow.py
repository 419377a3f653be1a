"""The typed build flow: named steps run as a start/stop range, a range continuing a build folder from
its files, the typed request refusing bad values, build.json's one resource set for the deployed
accelerator. Run time about 40 s beside the shared default build (conftest), most of it the
`--stop-step hls` build and the continued rtl step."""
import dataclasses
import hashlib
import json
import shutil
from pathlib import Path

import numpy as np
import pytest

from conftest import assert_clean_error, run_cli
from sqzfpga.build import RATE_KEYS, STEP_NAMES, BuildRequest, new_state, resources
from sqzfpga.errors import UserError
from sqzfpga.rtl.rate import NOT_ANALYSED

pytestmark = pytest.mark.xdist_group("default_build")  # uses the shared default build (conftest)


def _files(folder: Path) -> dict[str, str]:
    return {p.relative_to(folder).as_posix(): hashlib.sha256(p.read_bytes()).hexdigest()
            for p in sorted(folder.rglob("*")) if p.is_file()}


def _last_json(proc) -> dict:
    return json.loads(proc.stdout.strip().splitlines()[-1])


def test_request_refuses_bad_values(tmp_path):
    """Each bad value is one UserError naming it; a good request runs the steps it asks for, in order."""
    ok = BuildRequest(model=tmp_path / "m.onnx", part="xc7z020", out=tmp_path / "b")
    assert ok.steps() == ["export", "lower", "samples", "hls", "rtl", "csim", "project", "report"]  # no --board
    assert dataclasses.replace(ok, board="pynq-z2", csim=True, start_step="rtl").steps() == [
        "rtl", "csim", "project", "deploy", "report"]
    assert dataclasses.replace(ok, csim=False, stop_step="synth").steps()[-4:] == ["project", "report", "rtlsim",
                                                                                  "synth"]
    for change, needle in [({"images": 0}, "--images 0"), ({"accel": "fpga"}, "--accel fpga"),
                           ({"backend": "Quartus"}, "--backend Quartus"), ({"clock_mhz": float("nan")}, "--clock-mhz"),
                           ({"clock_mhz": 2000.0}, "at most 1000"), ({"max_cycles": 0}, "max_cycles 0"),
                           ({"part": "xc9z999"}, "unknown part 'xc9z999'"), ({"bitstream": True}, "needs --board"),
                           ({"board": "pynq-z2", "csim": False}, "--no-csim"), ({"board": "zcu104"}, "xczu7ev"),
                           ({"start_step": "place"}, "--start-step place: not a build step"),
                           ({"start_step": "csim", "stop_step": "rtl"}, "comes after --stop-step rtl")]:
        with pytest.raises(UserError, match=needle):
            dataclasses.replace(ok, **change)
    with pytest.raises(dataclasses.FrozenInstanceError):
        ok.images = 3


def test_unknown_step_is_one_error_line(tmp_path):
    """An unknown step name: one `error:` line naming it and listing every step, nothing written."""
    line = assert_clean_error(run_cli("build", "--stop-step", "bitstream", "--out", tmp_path / "b"),
                              "--stop-step bitstream", "not a build step")
    assert ", ".join(STEP_NAMES) in line
    assert_clean_error(run_cli("build", "--start-step", "rtl", "--out", tmp_path / "b"), "--start-step rtl",
                       "not an sqzfpga build folder")
    assert not (tmp_path / "b").exists() and not list(tmp_path.iterdir())


def test_stop_after_hls_then_continue_from_rtl(default_build, tmp_path):
    """`--stop-step hls` writes the HLS project and no rtl/ and no report; `--start-step rtl` on that
    folder loads what the earlier steps wrote and produces the default build's rtl/ byte for byte."""
    out, _ = default_build
    b = tmp_path / "b"
    proc = run_cli("build", "--model", out / "model.onnx", "--out", b, "--stop-step", "hls", "--images", 4, "--json")
    assert proc.returncode == 0, proc.stderr
    summary = _last_json(proc)
    assert list(summary["steps"]) == ["export", "lower", "samples", "hls"], summary["steps"]
    assert summary["rtl"] is None and summary["lut"] is None and summary["hls"]["dsp"] > 0
    assert (b / "hls" / "firmware" / "sqznet.cpp").exists() and (b / "canonical.onnx").exists()
    assert not (b / "rtl").exists() and not (b / "report.html").exists() and not (b / "csim.npz").exists()
    assert "[build] rtl ..." not in proc.stderr

    proc = run_cli("build", "--model", out / "model.onnx", "--out", b, "--start-step", "rtl", "--stop-step", "rtl",
                   "--json")
    assert proc.returncode == 0, proc.stderr
    assert [ln for ln in proc.stderr.splitlines() if ln.endswith(" ...")] == ["[build] rtl ..."]
    assert _files(b / "rtl") == _files(out / "rtl")
    summary = _last_json(proc)
    assert list(summary["steps"]) == ["export", "lower", "samples", "hls", "rtl"]
    assert summary["rtl"]["cycles_per_frame"] == json.loads((out / "rtl" / "rtl.json").read_text())["plan"][
        "cycles_per_frame"]


def test_continued_range_regenerates_rtl_identically(default_build, tmp_path):
    """`build --start-step rtl --stop-step rtl` on a copy of the default build: rtl/ byte-identical,
    every other generated file untouched, build.json's resources unchanged."""
    out, _ = default_build
    b = tmp_path / "copy"
    shutil.copytree(out, b, symlinks=True)
    before = _files(b)
    proc = run_cli("build", "--out", b, "--start-step", "rtl", "--stop-step", "rtl", "--board", "pynq-z2", "--json")
    assert proc.returncode == 0, proc.stderr
    after = _files(b)
    changed = {k for k in before.keys() | after.keys() if before.get(k) != after.get(k)}
    rendered = {"build.json", "report.md", "report.html"} | {k for k in before if k.startswith("report/")}
    assert changed <= rendered | {"rtlsim.json"}, changed  # rtlsim.json (if any) simulated the previous RTL
    new, old = json.loads((b / "build.json").read_text()), json.loads((out / "build.json").read_text())
    assert {k: new[k] for k in ("lut", "ff", "bram36", "dsp", "hls", "rtl")} == {
        k: old[k] for k in ("lut", "ff", "bram36", "dsp", "hls", "rtl")}


def test_build_json_resources_are_the_deployed_rtl_plan(default_build):
    """build.json states the deployed (RTL) accelerator's LUT/FF/BRAM36/DSP: the planner's estimate in
    rtl/rtl.json and `plan`'s figures; the HLS fit estimate stands beside it, and differs."""
    out, proc = default_build
    summary = json.loads((out / "build.json").read_text())
    printed = _last_json(proc)  # build.json, less its frame rate, which a later rtlsim, synth or timing re-quotes
    assert {k: v for k, v in printed.items() if k not in RATE_KEYS} == \
        {k: v for k, v in summary.items() if k not in RATE_KEYS}
    assert printed["fps_from"] == "plan" and printed["clock_source"] == NOT_ANALYSED  # built to the report step
    estimate = json.loads((out / "rtl" / "rtl.json").read_text())["plan"]["estimate"]
    assert summary["accel"] == "rtl" and summary["fits"] is True
    assert {k: summary[k] for k in ("lut", "ff", "bram36", "dsp")} == estimate
    assert summary["hls"]["dsp"] == summary["dsp"]  # the same folding: the same multipliers
    assert summary["hls"]["lut"] != summary["lut"]  # the other backend's estimate, under its own key
    plan = _last_json(run_cli("plan", "--build", out, "--json"))
    assert {k: plan[k] for k in ("lut", "ff", "bram36", "dsp")} == estimate
    md = (out / "report.md").read_text()  # the report's fit table reads the same set
    assert f"| DSP | 220 | 198 | {estimate['dsp']} ({100 * estimate['dsp'] / 220:.0f}%) |" in md


def test_hls_accelerator_reports_the_hls_estimate(default_build, tmp_path):
    """With --accel hls the deployed set is hls.fit's, the RTL's beside it."""
    out, _ = default_build
    s = new_state(BuildRequest(model=out / "model.onnx", part="xc7z020", out=out, accel="hls"), out)
    fit = s.previous["hls"]
    assert resources(s) == {"lut": fit["lut"], "ff": fit["ff"], "bram36": fit["bram18"] / 2, "dsp": fit["dsp"],
                            "fits": fit["fits"]}
    s = new_state(BuildRequest(model=out / "model.onnx", part="xc7z020", out=out), out)
    assert resources(s)["lut"] == s.previous["rtl"]["estimate"]["lut"] != fit["lut"]


def test_continued_range_rewrites_the_deploy_package(default_build, tmp_path):
    """`build --start-step deploy` on a copy of a --board build (its deploy/ exists): the step writes a
    new package beside the old one and swaps it in (it used to stop with a FileExistsError traceback);
    the package's files are those of the first build (only the marker's id and time, and the stand-in's
    compile, are new)."""
    out, _ = default_build
    b = tmp_path / "copy"
    shutil.copytree(out, b, symlinks=True)
    before = {k: v for k, v in _files(b).items() if k.startswith("deploy/")}
    proc = run_cli("build", "--out", b, "--start-step", "deploy", "--stop-step", "deploy", "--board", "pynq-z2")
    assert proc.returncode == 0 and "Traceback" not in proc.stderr, proc.stderr[-2000:]
    after = {k: v for k, v in _files(b).items() if k.startswith("deploy/")}
    changed = {k for k in before.keys() | after.keys() if before.get(k) != after.get(k)}
    compiled = {k for k in changed if k.startswith("deploy/csim/compiled/")}  # the stand-in, compiled again
    assert changed - compiled <= {"deploy/.sqzfpga-deploy", "deploy/csim/recipe.json"}, changed
    assert not list(b.glob(".deploy.partial-*")) and (b / "deploy.tar.gz").is_file()


def test_images_beyond_the_shipped_samples_are_capped_with_a_warning(tmp_path):
    """`--images` larger than the verification set: one warning line saying how many are used (it used
    to pass without notice). About 30 s (export, lower, samples)."""
    proc = run_cli("build", "--part", "xc7z020", "--out", tmp_path / "b", "--images", "100000", "--stop-step",
                   "samples", "--json")
    assert proc.returncode == 0, proc.stderr
    assert "warning: --images 100000: the shipped samples hold only" in proc.stdout + proc.stderr
    assert len(np.load(tmp_path / "b" / "samples.npz")["images"]) < 100000
