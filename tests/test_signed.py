"""Signed outputs and unit scales through every layer in both backends, and a model one backend
refuses: the models of tests/signed_net.py, exported and built as a user builds them (CLI)."""
from __future__ import annotations

import json
from pathlib import Path

import numpy as np

from conftest import assert_clean_error, run_cli


def _export(folder, **kw):
    import signed_net
    from sqzfpga.model import export

    return export.export(signed_net.build(**kw), folder / "model.onnx")


def test_signed_outputs_and_unit_scales_build_exact(tmp_path):
    """About 110 s (on a loaded 2-core machine). A signed conv with scale 1 (frac 0) into a max pool, a Fire with a signed input and
    a signed squeeze, a signed classifier (no ReLU) into the global average pool, a signed output: the
    C simulation equals the QONNX reference and the generated RTL (linted with -Wall) the C simulation."""
    model = _export(tmp_path, act1="unit", pool=True, fire=True, squeeze="signed", cls="signed", out="signed")
    out = tmp_path / "build"
    proc = run_cli("build", "--model", model, "--part", "xc7z020", "--out", out, "--images", 8, "--stop-step",
                   "rtlsim")
    assert proc.returncode == 0, proc.stderr[-3000:]
    assert json.loads((out / "build.json").read_text())["csim"]["exact"]
    assert json.loads((out / "rtlsim.json").read_text())["exact"]
    stages = {st["module"]: st["params"] for st in json.loads((out / "rtl" / "rtl.json").read_text())["stages"]}
    # the model reaches the signed paths it is meant to: every layer's signed input or output
    assert stages["sqz_maxpool"]["ISIGNED"] == "1"
    assert (stages["sqz_fire"]["ISIGNED"], stages["sqz_fire"]["SSIGNED"]) == ("1", "1")
    assert (stages["sqz_gap"]["ISIGNED"], stages["sqz_gap"]["OMIN"]) == ("1", str(-2**11))
    outputs = np.load(out / "csim.npz")["outputs"]
    assert outputs.min() < 0 < outputs.max(), (outputs.min(), outputs.max())


def test_rtl_backend_refusal_names_the_backend_and_keeps_the_hls_project(tmp_path):
    """About 11 s. A 9-bit input quantizer: the HLS backend takes it, the RTL backend (one byte per
    input channel) does not. One error line that names the RTL backend and its reason and where the
    HLS project is; that project is complete there; the build folder is not written."""
    model = _export(tmp_path, in_bits=9)
    out = tmp_path / "build"
    proc = run_cli("build", "--model", model, "--part", "xc7z020", "--out", out, "--images", 4, "--stop-step", "csim")
    line = assert_clean_error(proc, "RTL backend: input type uint9", "one byte per channel", "the HLS project in ",
                              "is complete", "the partial build is kept in ")
    hls = line.split("the HLS project in ", 1)[1].split(" is complete")[0]
    kept = line.rsplit("the partial build is kept in ", 1)[1].rstrip(")")
    assert hls.startswith(kept)
    assert (Path(hls) / "build_prj.tcl").is_file() and any((Path(hls) / "firmware").glob("*.cpp"))
    assert not (Path(kept) / "rtl").exists() and not out.exists()
