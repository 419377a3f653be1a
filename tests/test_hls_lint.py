"""The HLS lint (sqzfpga/hls/lint.py) on written projects: none of its rules fires on what sqzfpga
generates, and each of three planted mutants (a weight ROM read in mac's pipelined loop without its
reshape, a stream read twice in one iteration, the window's data-dependent loop without a trip count)
gives exactly one finding naming its file, line and rule (so does a halved reshape factor); and each rule's
semantics on hand-written loops. Two projects: the small default model and the complex-bypass one cut to
four Fires (conv and identity bypasses: fire_conv's and fire_identity's calls). About 40 s, nearly all of
it the QONNX export of the two models."""
import re
import shutil

import numpy as np
import pytest
import torch

from sqzfpga.driver.layout import Layout
from sqzfpga.errors import UserError
from sqzfpga.hls import lint
from sqzfpga.hls.project import write_axis_top
from test_exact import CASES, RTL_BUDGET

LAYERS = "firmware/nnet_utils/sqz_layers.h"
TOP = "firmware/sqznet.cpp"
pytestmark = pytest.mark.xdist_group("hls_lint")  # each `project` is written once, on one worker


def written_project(folder, case: str):
    """The case's model, quantized and calibrated on random images, written as an HLS project folded by
    the RTL planner (as test_exact), with the AXI-Stream top."""
    from sqzfpga.hls.convert import convert_folded
    from sqzfpga.layers import lower
    from sqzfpga.model import export, reference
    from sqzfpga.model.config import preset
    from sqzfpga.model.quant import calibrate, quantize_float
    from sqzfpga.model.squeezenet import SqueezeNet

    torch.manual_seed(0)
    cfg = preset(**CASES[case], **({"num_fires": 4} if case == "complex-bypass" else {}))  # 4: every Fire form
    qmodel = quantize_float(SqueezeNet(cfg))
    size = cfg.input_size
    calib = np.random.default_rng(0).integers(0, 256, (16, cfg.in_channels, size, size))
    calibrate(qmodel, [torch.from_numpy(calib).float()])
    canon, _, low = lower(reference.load(export.export(qmodel, folder / "m.onnx")))
    hm = convert_folded(canon, low.input.q, folder / "hls", "xc7z020clg400-1", RTL_BUDGET)
    hm.write()
    write_axis_top(folder / "hls", Layout(cfg.in_channels, size, size, cfg.num_classes, 16, 8, False), 8)
    return folder / "hls"


@pytest.fixture(scope="module", params=["small", "complex-bypass"])
def project(request, tmp_path_factory):
    return written_project(tmp_path_factory.mktemp(request.param), request.param)


def mutant(project, tmp_path, rel: str, old: str, new: str):
    """A copy of the project's C++ with `old` (found exactly once in file rel) replaced by `new`."""
    dst = tmp_path / "prj"
    shutil.copytree(project / "firmware", dst / "firmware", ignore=shutil.ignore_patterns("weights"))
    text = (dst / rel).read_text()
    assert text.count(old) == 1, old
    (dst / rel).write_text(text.replace(old, new))
    return dst, (dst / rel).read_text().splitlines()


def line_of(lines: list[str], pattern: str) -> int:
    return next(i for i, ln in enumerate(lines, 1) if re.search(pattern, ln))


def test_generated_project_passes(project):
    assert lint.lint(project) == []
    lint.check(project)  # no exception
    names = {p.name for p in (project / "firmware").glob("*.cpp")}
    assert names == {"sqznet.cpp", "sqznet_axis.cpp"}, names  # both tops were linted


def test_unreshaped_weight_rom(project, tmp_path):
    """Deleting a weight ROM's reshape at the call site: one array-ports finding on that call, for a ROM
    of each kind (conv -> mac, fire's squeeze and expand -> mac, fire_conv's bypass -> mac)."""
    text = (project / TOP).read_text()
    kinds = ["", "squeeze_", "expand_"] + (["bypass_"] if "sqz::fire_conv<" in text else [])
    assert ("sqz::fire_conv<" in text and "sqz::fire_identity<" in text) == project.parent.name.startswith("complex")
    for prefix in kinds:
        m = re.search(rf"^\s*#pragma HLS ARRAY_RESHAPE variable = ({prefix}w\d+) cyclic factor = \d+ dim = 1\n",
                      text, re.M)
        prj, lines = mutant(project, tmp_path / (prefix or "conv"), TOP, m.group(0), "\n")
        found = lint.lint(prj)
        assert [(f.file, f.rule) for f in found] == [(TOP, "array-ports")], found
        call = line_of(lines, rf"^\s*sqz::\w+<.*\b{m.group(1)}\b")
        assert found[0].line == call and str(found[0]).startswith(f"{TOP}:{call}: array-ports: `{m.group(1)}`")


def test_reshape_factor_too_small(project, tmp_path):
    """Halving a weight ROM's reshape factor: two reads per bank of a one-port ROM, one finding."""
    text = (project / TOP).read_text()
    rom = re.finditer(r"variable = (\w*w\d+) cyclic factor = (\d+) dim = 1", text)
    m = next(m for m in rom if int(m.group(2)) % 2 == 0)
    half = m.group(0).replace(f"factor = {m.group(2)}", f"factor = {int(m.group(2)) // 2}")
    prj, lines = mutant(project, tmp_path, TOP, m.group(0) + "\n", half + "\n")
    found = lint.lint(prj)
    call = line_of(lines, rf"^\s*sqz::\w+<.*\b{m.group(1)}\b")
    assert [(f.file, f.line, f.rule) for f in found] == [(TOP, call, "array-ports")], found
    assert "2 reads per bank" in found[0].message


def test_stream_read_twice(project, tmp_path):
    old = "        Step<T, PI> x = in.read();\n"
    prj, lines = mutant(project, tmp_path, LAYERS, old, old + "        x = in.read(); // mutant\n")
    found = lint.lint(prj)
    want = line_of(lines, "// mutant")
    assert [(f.file, f.line, f.rule) for f in found] == [(LAYERS, want, "stream-read-once")], found
    assert "`in`" in found[0].message and "mac()" in found[0].message


def test_loop_without_tripcount(project, tmp_path):
    tripcount = "        #pragma HLS LOOP_TRIPCOUNT min = CFG::TRIP max = CFG::TRIP\n"  # sqz::window's loop
    prj, lines = mutant(project, tmp_path, LAYERS, tripcount, "")
    found = lint.lint(prj)
    want = line_of(lines, r"^\s*while \(steps < STEPS \|\| beats < BEATS\)")
    assert [(f.file, f.line, f.rule) for f in found] == [(LAYERS, want, "loop-tripcount")], found
    with pytest.raises(UserError) as e:
        lint.check(prj)
    msg = str(e.value)
    assert msg.startswith(f"HLS lint: {LAYERS}:{want}: loop-tripcount: ") and "(1 finding)" in msg and "\n" not in msg


LOOP = """#include "hls_stream.h"
void f(hls::stream<int> &in, hls::stream<int> &out, int n) {{
    int a[64];
    #pragma HLS BIND_STORAGE variable = a type = ram_2p impl = bram
    int acc[4];
    #pragma HLS ARRAY_PARTITION variable = acc complete
    for (unsigned i = 0; i < 64; i++) {{
        #pragma HLS PIPELINE II = 1
{body}
    }}
}}
"""
SEMANTICS = {  # loop body -> the rules it breaks (UG1399 semantics, as the module docstring states them)
    "int x = in.read(); if (x > 0) { out.write(x); } else { out.write(-x); }": [],
    "if (i % 2) { int x = in.read(); out.write(x); } else { int y = in.read(); out.write(y); }": [],  # exclusive
    "if (i % 2) { int x = in.read(); out.write(x); } int y = in.read(); out.write(y);": ["stream-read-once"],
    "out.write(a[i] + a[63 - i]);": [],  # two reads: a dual-port memory's two ports
    "out.write(a[i] + a[63 - i] + a[i / 2]);": ["array-ports"],
    "int s = 0; for (unsigned j = 0; j < 4; j++) { \n#pragma HLS UNROLL\n s += a[4 * i + j] + acc[j]; } out.write(s);":
        ["array-ports"],  # four reads of a, from the unrolled loop; acc is registers
    "int s = 0; for (unsigned j = 0; j < 4; j++) { s += acc[j]; } out.write(s);": ["inner-unroll"],
    "int k = 0; while (k < n) { \n#pragma HLS LOOP_TRIPCOUNT max = 4\n k++; } out.write(k);": ["inner-unroll"],
    "for (int k = 0; k < n; k++) { \n#pragma HLS UNROLL\n out.write(k); }": ["loop-tripcount"],  # n: an argument
    "for (int k = 0; k < 64 / 16; k++) { \n#pragma HLS UNROLL\n out.write(in.read()); }": ["stream-read-once"],
}


@pytest.mark.parametrize("body", list(SEMANTICS))
def test_rule_semantics(tmp_path, body):
    """Each rule on a hand-written loop: exclusive branches read a stream once, two reads fit a
    dual-port memory, an unrolled loop's reads count its trips, complete partitions are registers."""
    (tmp_path / "firmware").mkdir()
    (tmp_path / "firmware" / "x.cpp").write_text(LOOP.format(body=body.replace("\n", "\n        ")))
    assert sorted(f.rule for f in lint.lint(tmp_path)) == SEMANTICS[body], lint.lint(tmp_path)
