"""Place-and-route cross-check on ECP5 (benchmarks/pnr_crosscheck.py, rtl/pnr.py, rtl/delays_ecp5.py):
the ECP5 delay table on hand-written netlists (well under 1 s); a small max pool from the RTL library
through synth_ecp5 and nextpnr-ecp5 as a user runs the benchmark (14 s on 2 shared cores), its routed
path found and the estimate within a factor 2 of it; an unknown stage, a tool over its time limit and a
stage without registers refused with one error line (11 s). 27 s in all."""
from __future__ import annotations

import json
import shutil
import subprocess
import sys

import pytest

from conftest import ROOT, assert_clean_error
from sqzfpga.rtl.delays_ecp5 import DEDICATED_ECP5, DELAYS_ECP5_6 as D, ecp5_cell_arcs
from sqzfpga.rtl.pnr import estimated_path
from sqzfpga.rtl.timing import analyse

TOOL = ROOT / "benchmarks" / "pnr_crosscheck.py"


def _module(cells: dict) -> dict:
    return {"ports": {"clk": {"direction": "input", "bits": [1]}},
            "cells": {n: {"type": t, "parameters": {}, "port_directions": {p: d for p, (d, _) in conn.items()},
                          "connections": {p: b for p, (_, b) in conn.items()}} for n, (t, conn) in cells.items()}}


def _ff(d, q):
    return "TRELLIS_FF", {"CLK": ("input", [1]), "DI": ("input", [d]), "Q": ("output", [q]), "CE": ("input", ["1"])}


def test_two_luts_and_a_carry_between_two_registers():
    """FF -> LUT4 -> LUT4 -> CCU2C -> CCU2C (carry on its dedicated wire) -> FF: every figure from the table,
    the allowance on the three routed nets into LUT, LUT, CCU2C and the one into the end register."""
    m = _module({"a": _ff(10, 11), "l1": ("LUT4", {"A": ("input", [11]), "Z": ("output", [12])}),
                 "l2": ("LUT4", {"B": ("input", [12]), "Z": ("output", [13])}),
                 "c1": ("CCU2C", {"A0": ("input", [13]), "COUT": ("output", [14])}),
                 "c2": ("CCU2C", {"CIN": ("input", [14]), "S1": ("output", [15])}), "b": _ff(15, 16)})
    r = 0.5
    logic = D["FF_CKO"] + 2 * D["LUT4"] + D["CCU2_IN_CO"] + D["CCU2_CI_S1"] + D["FF_SETUP"]
    st = analyse(m, D, r, ecp5_cell_arcs, DEDICATED_ECP5)
    assert st.reg_to_reg.ns == pytest.approx(logic + 4 * r, abs=1e-3) and st.reg_to_reg.levels == 4
    e = estimated_path(m, D, r, ecp5_cell_arcs, DEDICATED_ECP5)
    assert (e.logic_ns, e.nets, e.ns) == (pytest.approx(logic, abs=1e-3), 4, pytest.approx(logic + 4 * r, abs=1e-3))
    # the Xilinx table does not know ECP5 cells: refused by name, not guessed
    with pytest.raises(Exception, match="LUT4|TRELLIS_FF"):
        analyse(m, D, r)


def test_block_ram_output_register_and_multiplier_registers():
    ram = {"CLKB": ("input", [1]), "ADB0": ("input", [20]), "DOB0": ("output", [21])}
    for mode, cko in (("NOREG", D["EBR_CKO"]), ("OUTREG", D["EBR_CKO_REG"])):
        m = _module({"r": ("DP16KD", ram), "b": _ff(21, 22)})
        m["cells"]["r"]["parameters"] = {"REGMODE_B": mode}
        assert analyse(m, D, 0.0, ecp5_cell_arcs, DEDICATED_ECP5).reg_to_reg.ns == pytest.approx(cko, abs=1e-3)
    mult = {"A0": ("input", [11]), "P0": ("output", [12]), "CLK0": ("input", [1])}
    both = {"REG_INPUTA_CLK": "CLK0", "REG_INPUTB_CLK": "CLK0", "REG_OUTPUT_CLK": "CLK0"}
    cases = (({}, D["FF_CKO"] + D["MULT_NONE"]), ({"REG_OUTPUT_CLK": "CLK0"}, D["FF_CKO"] + D["MULT_OUT_SETUP"]),
             (both, D["MULT_OUT_CKO"]))  # output register only: the path into A/B crosses the multiplier
    for regs, ns in cases:
        m = _module({"a": _ff(10, 11), "m": ("MULT18X18D", mult), "b": _ff(12, 13)})
        m["cells"]["m"]["parameters"] = regs
        assert analyse(m, D, 0.0, ecp5_cell_arcs, DEDICATED_ECP5).reg_to_reg.ns == pytest.approx(ns, abs=1e-3)


POOL = {"H": "6", "W": "6", "C": "4", "IB": "8", "ISIGNED": "0", "K": "3", "S": "2", "PT": "0", "PL": "0", "OH": "2",
        "OW": "2", "R": "4", "CHUNKS": "1", "LBSTYLE": '"block"'}
# l2_pool1 of the default build: Yosys alone takes 7 s, past a 2 s limit whatever the load
BIG_POOL = {**POOL, "H": "28", "W": "28", "C": "64", "OH": "13", "OW": "13", "CHUNKS": "16"}
COMB = "module comb (input logic [3:0] a, output logic [3:0] y);\n  assign y = a + 4'd3;\nendmodule\n"


def _build(tmp_path):
    """A build folder as `sqzfpga build` writes one: a small max pool, the default build's first pool and
    a stage without registers (nothing to compare)."""
    rtl = tmp_path / "b" / "rtl"
    rtl.mkdir(parents=True)
    sources = ["sqz_maxpool.sv", "sqz_window.sv", "sqz_mem.sv", "sqz_stream.sv"]
    for s in sources:
        shutil.copy(ROOT / "sqzfpga" / "templates" / "rtl" / s, rtl / s)
    (rtl / "comb.sv").write_text(COMB)
    stages = [{"name": "pool", "module": "sqz_maxpool", "params": POOL},
              {"name": "big_pool", "module": "sqz_maxpool", "params": BIG_POOL},
              {"name": "comb", "module": "comb", "params": {}}]
    (rtl / "rtl.json").write_text(json.dumps({"top": "top", "sources": [*sources, "comb.sv"], "stages": stages}))
    return tmp_path / "b"


def _bench(*args, timeout=300):
    return subprocess.run([sys.executable, str(TOOL), *map(str, args)], cwd=ROOT, capture_output=True, text=True,
                          timeout=timeout)


def test_small_max_pool_routed_and_estimated(tmp_path):
    p = _bench("--build", _build(tmp_path), "--stage", "pool", "--work", tmp_path / "w", "--json")
    assert p.returncode == 0, p.stdout + p.stderr
    s = json.loads(p.stdout.splitlines()[-1])
    row = s["stages"]["pool"]
    assert row["routed_ns"] > 0 and row["routed_logic_ns"] > 0 and row["routed_nets"] >= 1, row
    assert row["routed_ns"] == pytest.approx(row["routed_logic_ns"] + row["routed_routing_ns"], abs=2e-3)
    # the estimate with the allowance derived from this routed path: within a factor 2 of it
    assert 0.5 <= row["est_ns"] / row["routed_ns"] <= 2.0, row
    assert s["allowance_ecp5_ns"] >= row["routing_per_net_ns"] > 0, s
    assert "est logic" in p.stdout and "routing allowance derived on ECP5" in p.stdout


def test_unknown_stage_a_tool_over_its_time_limit_and_no_registers_are_refused(tmp_path):
    b = _build(tmp_path)
    p = _bench("--build", b, "--stage", "nosuch", "--work", tmp_path / "w")
    assert p.returncode != 0 and "--stage nosuch: not a stage" in p.stderr and "Traceback" not in p.stderr
    p = _bench("--build", b, "--stage", "big_pool", "--work", tmp_path / "w", "--timeout", "2")
    assert_clean_error(p, "no stage was placed and routed", "synth_ecp5 of big_pool: took over 2 s")
    p = _bench("--build", b, "--stage", "comb", "--work", tmp_path / "w")
    assert_clean_error(p, "no stage was placed and routed", "no register-to-register path")
