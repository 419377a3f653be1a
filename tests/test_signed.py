"""Signed outputs and unit scales through every layer in both backends: the models of
tests/signed_net.py, exported and built as a user builds them (CLI). (A backend that fails:
tests/test_backend_fail.py.)"""
from __future__ import annotations

import json

import numpy as np
import pytest

from conftest import run_cli


def _export(folder, **kw):
    import signed_net
    from sqzfpga.model import export

    return export.export(signed_net.build(**kw), folder / "model.onnx")


@pytest.mark.slow
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
