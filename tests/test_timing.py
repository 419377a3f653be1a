"""Static timing estimate (sqzfpga/rtl/timing.py): hand-written netlists whose worst paths are computed
by hand from the delay model, the chain of stages, a combinational loop rejected, the family check,
the `timing` command on one Yosys-synthesised conv stage (about 20 s); frames/s at min(requested
clock, estimated fmax) (sqzfpga/rtl/rate.py): its three cases, and a conv + average-pool network built
to the synth step (49-73 s on 2 cores under load 5-8: C and RTL simulation about 26 s, four stages
through Yosys about 30 s, the timing pass under 1 s). The rest well under 1 s."""
from __future__ import annotations

import json
import re

import pytest

from conftest import assert_clean_error, run_cli
from sqzfpga.errors import UserError
from sqzfpga.parts import get_part
from sqzfpga.rtl.rate import ESTIMATED, NOT_ANALYSED, REQUESTED_BELOW_FMAX, rate
from sqzfpga.rtl.timing import (DELAYS_Z7_1 as D, ROUTE_NS as R, PathInfo, StageTiming, analyse, chain,
                                covers, delay_model)


def _module(ports: dict, cells: dict) -> dict:
    """A write_json module: ports {name: (direction, [bits])}, cells {name: (type, params, {port: (dir, bits)})}."""
    return {"ports": {p: {"direction": d, "bits": b} for p, (d, b) in ports.items()},
            "cells": {n: {"type": t, "parameters": params, "port_directions": {p: d for p, (d, _) in conn.items()},
                          "connections": {p: b for p, (_, b) in conn.items()}}
                      for n, (t, params, conn) in cells.items()}}


def _ff(d, q, clk=1):
    return "FDRE", {}, {"C": ("input", [clk]), "D": ("input", [d]), "Q": ("output", [q]), "CE": ("input", ["1"]),
                        "R": ("input", ["0"])}


def _lut(i, o):
    return "LUT1", {}, {"I0": ("input", [i]), "O": ("output", [o])}


CLK = {"clk": ("input", [1])}


def test_three_luts_between_two_registers():
    m = _module(CLK, {"a": _ff(9, 2), "l1": _lut(2, 3), "l2": _lut(3, 4), "l3": _lut(4, 5), "b": _ff(5, 6)})
    st = analyse(m, D)
    assert st.reg_to_reg.ns == round(D["TCKO"] + 3 * (R + D["TILO"]) + R + D["TDICK"], 3)
    assert st.reg_to_reg.levels == 3
    assert st.reg_to_reg.start == "a.Q[0]" and st.reg_to_reg.end == "b.D[0]"
    assert st.worst.through == ("l1", "l2", "l3")


def _carry(name_ci, s, co, o):
    return "CARRY4", {}, {"CI": ("input", [name_ci]), "CYINIT": ("input", ["0"]), "S": ("input", s),
                          "DI": ("input", ["0"] * 4), "CO": ("output", co), "O": ("output", o)}


def test_carry_chain_uses_the_dedicated_route():
    """FF -> LUT -> (in the slice) CARRY4 S[0] -> CO[3] -> (dedicated) CI of the next CARRY4 -> O[3] -> FF."""
    m = _module(CLK, {"a": _ff(9, 2), "l": _lut(2, 3), "c1": _carry("0", [3, "0", "0", "0"], [10, 11, 12, 13],
                                                                    [14, 15, 16, 17]),
                      "c2": _carry(13, ["0"] * 4, [20, 21, 22, 23], [24, 25, 26, 27]), "b": _ff(27, 30)})
    st = analyse(m, D)
    assert st.reg_to_reg.ns == round(D["TCKO"] + R + D["TILO"] + D["TOPCYC"] + D["TCINO"] + R + D["TDICK"], 3)
    assert st.reg_to_reg.levels == 3 and st.worst.through == ("l", "c1", "c2")


def _dsp_design(**regs):
    params = {"AREG": 0, "BREG": 0, "CREG": 0, "MREG": 0, "PREG": 0, "OPMODEREG": 0, "ALUMODEREG": 0,
              "CARRYINSELREG": 0, "USE_MULT": "MULTIPLY", **regs}
    dsp = "DSP48E1", params, {"CLK": ("input", [1]), "A": ("input", [2]), "B": ("input", ["0"]),
                              "P": ("output", [40])}
    return _module(CLK, {"a": _ff(9, 2), "dsp": dsp, "b": _ff(40, 41)})


def test_dsp_registers_cut_the_multiplier_path():
    comb = analyse(_dsp_design(), D).reg_to_reg
    assert comb.ns == round(D["TCKO"] + R + D["TDSPDO_A_P_MULT"] + R + D["TDICK"], 3) and comb.levels == 1
    reg = analyse(_dsp_design(MREG=1, PREG=1), D).reg_to_reg
    assert reg.ns == round(max(D["TCKO"] + R + D["TDSPDCK_A_MREG_MULT"], D["TDSPCKO_P_PREG"] + R + D["TDICK"]), 3)
    assert reg.ns < comb.ns


def _bram_design(doa_reg):
    bram = "RAMB18E1", {"DOA_REG": doa_reg}, {"CLKARDCLK": ("input", [1]), "ADDRARDADDR": ("input", [2]),
                                              "DOADO": ("output", [50])}
    return _module(CLK, {"a": _ff(9, 2), "ram": bram, "l": _lut(50, 51), "b": _ff(51, 52)})


def test_block_ram_output_register():
    plain, reg = (analyse(_bram_design(r), D).reg_to_reg for r in (0, 1))
    assert plain.ns == round(D["TRCKO_DO"] + R + D["TILO"] + R + D["TDICK"], 3) and plain.start == "ram.DOADO[0]"
    assert reg.ns == round(D["TRCKO_DO_REG"] + R + D["TILO"] + R + D["TDICK"], 3) < plain.ns


def test_input_to_output_path():
    m = _module({"x": ("input", [2]), "y": ("output", [4])}, {"l1": _lut(2, 3), "l2": _lut(3, 4)})
    st = analyse(m, D)
    assert st.reg_to_reg is None
    assert st.in_to_out[("x", "y")] == PathInfo(round(2 * (R + D["TILO"]), 3), 2, "x[0]", "y[0]")


def test_combinational_loop_is_an_error_not_a_hang():
    m = _module(CLK, {"l1": ("LUT2", {}, {"I0": ("input", [3]), "I1": ("input", [5]), "O": ("output", [4])}),
                      "l2": _lut(4, 3), "a": _ff(9, 5)})
    with pytest.raises(UserError, match="combinational loop through 2 cell"):
        analyse(m, D)


def test_ready_chain_crosses_stages():
    """Stage 2 passes m_ready combinationally to s_ready: stage 3's register -> stage 2 -> stage 1's register."""
    p = lambda ns, lv, s, e: PathInfo(ns, lv, s, e)
    s1 = StageTiming(None, None, {"m_ready": p(1.0, 1, "m_ready[0]", "f1.D[0]")}, {}, {})
    s2 = StageTiming(None, None, {}, {}, {("m_ready", "s_ready"): p(2.0, 3, "m_ready[0]", "s_ready[0]")})
    s3 = StageTiming(None, None, {}, {"s_ready": p(1.5, 2, "f3.Q[0]", "s_ready[0]")}, {})
    worst = chain([("c1", s1), ("c2", s2), ("c3", s3)])
    assert worst == PathInfo(4.5, 6, "c3/f3.Q[0]", "c1/f1.D[0]", ("c3", "c2", "c1"))


def test_other_families_are_refused():
    from sqzfpga.parts import Family, Part

    other = Part("x", "x", Family("other", dsp_port=18, yosys="x", ps="ps7"), 1, 1, 1, 0, 1, 1)
    with pytest.raises(UserError, match="Zynq-7000"):
        delay_model(other)
    assert not covers(other) and covers(get_part("xc7z020")) and covers(get_part("xczu9eg"))


def test_timing_command_on_a_synthesised_conv_stage(tmp_path):
    """`timing --build` on a folder holding one generated conv stage: Yosys runs, timing.json is written,
    the critical path names cells of the netlist, fmax is plausible; a second run reuses the netlist."""
    import sys
    sys.path.insert(0, str(__import__("pathlib").Path(__file__).parent))
    from test_rtl_modules import _conv_case

    from sqzfpga.rtl.generate import library_sources

    rtl = tmp_path / "rtl"
    rtl.mkdir()
    module, params, _, _ = _conv_case(rtl, (2, 3))
    for src in library_sources():
        (rtl / src.name).write_text(src.read_text())
    (rtl / "rtl.json").write_text(json.dumps({"top": "t_top", "sources": [s.name for s in library_sources()],
                                              "stages": [{"name": "conv1", "module": module, "params": params}]}))
    (tmp_path / "build.json").write_text(json.dumps({"part": "xc7z020"}))
    proc = run_cli("timing", "--build", tmp_path, "--json", "--timeout", 600)
    assert proc.returncode == 0, proc.stderr
    res = json.loads(proc.stdout.strip().splitlines()[-1])
    assert 20 <= res["fmax_mhz"] <= 1000, res
    cp = res["critical_path"]
    assert cp["levels"] >= 1 and res["stages"]["conv1"]["critical_path"]["ns"] <= cp["ns"]
    cells = json.loads((rtl / "synth" / "conv1_netlist.json").read_text())["modules"][module]["cells"]
    for pin in (cp["start"], cp["end"]):
        name = re.sub(r"^conv1/", "", pin).rsplit(".", 1)[0]
        assert name in cells or pin.split("[")[0] in ("s_valid", "s_data", "m_ready", "rst"), pin
    assert json.loads((rtl / "timing.json").read_text())["fmax_mhz"] == res["fmax_mhz"]
    again = run_cli("timing", "--build", tmp_path, "--json")
    assert json.loads(again.stdout.strip().splitlines()[-1])["timing_s"] < 5  # the netlist reused


def test_timing_command_without_rtl(tmp_path):
    (tmp_path / "build.json").write_text(json.dumps({"part": "xc7z020"}))
    assert_clean_error(run_cli("timing", "--build", tmp_path), "rtl/rtl.json", "python -m sqzfpga rtl")
    assert_clean_error(run_cli("timing", "--build", tmp_path / "nothing"), "not an sqzfpga build folder")


def test_rate_is_at_the_lower_of_requested_clock_and_fmax():
    slow = rate(1000, 2500, 200.0, {"fmax_mhz": 125.0})  # the estimate is below the request: fmax
    assert (slow.clock_mhz, slow.clock_source, slow.fps, slow.latency_us) == (125.0, ESTIMATED, 125_000, 20.0)
    fast = rate(1000, None, 100.0, {"fmax_mhz": 125.0})  # above it: the request, said so
    assert (fast.clock_mhz, fast.clock_source, fast.fps, fast.latency_us) == (100.0, REQUESTED_BELOW_FMAX, 1e5, None)
    blind = rate(1000, 2500, 200.0, None)  # nothing analysed: the request, marked
    assert (blind.clock_mhz, blind.clock_source, blind.fmax_mhz) == (200.0, NOT_ANALYSED, None)
    assert "clock not analysed" in blind.describe() and "clock not analysed" not in slow.describe()


def _conv_gap_model(path):
    """Raw pixels -> QuantConv2d 3x3/2 (10 channels) -> QuantReLU -> global average pool -> 10 scores: the
    smallest network with a multiplier, four stages to synthesise."""
    torch = pytest.importorskip("torch")
    from brevitas.nn import QuantConv2d, QuantIdentity, QuantReLU
    from brevitas.quant import (Int8BiasPerTensorFixedPointInternalScaling, Int8WeightPerTensorFixedPoint,
                                Uint8ActPerTensorFixedPoint)
    from test_user_models import calibrated, export

    from sqzfpga.model.quant import RawPixelQuant

    class Net(torch.nn.Module):
        def __init__(self):
            super().__init__()
            self.inp = QuantIdentity(act_quant=RawPixelQuant, return_quant_tensor=True)
            self.conv = QuantConv2d(1, 10, 3, stride=2, weight_quant=Int8WeightPerTensorFixedPoint,
                                    bias_quant=Int8BiasPerTensorFixedPointInternalScaling, return_quant_tensor=True)
            self.relu = QuantReLU(act_quant=Uint8ActPerTensorFixedPoint)
            self.gap = torch.nn.AdaptiveAvgPool2d(1)
            self.out = QuantIdentity(act_quant=Uint8ActPerTensorFixedPoint)

        def forward(self, x):
            return self.out(self.gap(self.relu(self.conv(self.inp(x))))).view(x.size(0), -1)

    return export(calibrated(Net), path)


def test_build_to_synth_quotes_frames_per_second_at_the_estimated_clock(tmp_path):
    """`build --stop-step synth --clock-mhz 250` (above what this RTL reaches): the synth step leaves
    rtl/timing.json, and build.json, rtlsim.json and the report quote frames/s and batch-1 latency at the
    estimated fmax, from the simulated cycles; `plan` says its clock was not analysed."""
    out = tmp_path / "b"
    proc = run_cli("build", "--model", _conv_gap_model(tmp_path / "net.onnx"), "--part", "xc7z020", "--out", out,
                   "--images", 4, "--stop-step", "synth", "--clock-mhz", 250, "--json")
    assert proc.returncode == 0, proc.stderr[-3000:]
    summary = json.loads(proc.stdout.strip().splitlines()[-1])
    assert summary == json.loads((out / "build.json").read_text())
    fmax = json.loads((out / "rtl" / "timing.json").read_text())["fmax_mhz"]
    assert 20 <= fmax < 250, fmax
    sim = json.loads((out / "rtlsim.json").read_text())
    assert summary["clock_mhz"] == 250 and summary["fmax_mhz"] == fmax == sim["fmax_mhz"]
    assert summary["clock_used_mhz"] == sim["clock_mhz"] == fmax and summary["clock_source"] == ESTIMATED
    assert summary["fps_from"] == "rtlsim" and sim["requested_clock_mhz"] == 250
    assert summary["fps"] == sim["fps"] == pytest.approx(fmax * 1e6 / sim["cycles_per_frame"], abs=0.1)
    assert summary["latency_us"] == pytest.approx(sim["latency_cycles"] / fmax, abs=0.01)
    assert summary["fps"] < 250e6 / sim["cycles_per_frame"]  # not at the requested (unanalysed) clock
    md = (out / "report.md").read_text()
    assert f"- clock used: **{fmax} MHz** (the estimated fmax; 250 MHz requested); estimated fmax {fmax} MHz" in md
    assert f"**{summary['fps']:,.0f} frames/s** at {fmax} MHz" in md and "(RTL simulation)" in md
    plan = run_cli("plan", "--build", out, "--json")
    assert json.loads(plan.stdout.strip().splitlines()[-1])["clock_source"] == NOT_ANALYSED
    assert "frames/s at 100 MHz (requested; clock not analysed: run `synth` or `timing` for an estimate)" in plan.stderr
    assert_clean_error(run_cli("rtlsim", "--build", out, "--clock-mhz", 0), "--clock-mhz 0", "positive clock")
