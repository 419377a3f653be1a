"""`timing`: a static timing estimate of the generated RTL from Yosys's `synth_xilinx` netlist.

Per stage, the mapped netlist (rtl/synth/NAME_netlist.json, written by `run_yosys(netlist=True)`) is
a graph of Xilinx primitives. Registers (FD*), block RAM, the registered parts of a DSP48E1, shift
registers and the write side of LUT RAM cut paths: their outputs start a path at the cell's
clock-to-out, their data/control inputs end one with the cell's setup time. LUTs, MUXF7/F8, CARRY4,
the read side of LUT RAM and the unregistered parts of a DSP48E1 are combinational arcs. The longest
path is a topological pass over the nets (a combinational loop is an error, never a hang), once from
the registers and once from each input port, so a stage yields its register-to-register worst path
plus, per port, input-to-register, register-to-output and input-to-output (port-to-port) worst paths.

Cross-stage paths: the top is a chain of stages joined by valid/ready/data (stage k's m_* is stage
k+1's s_*; ready runs backwards). A stage whose s_ready depends combinationally on m_ready, or whose
m_valid on s_valid, extends a path into its neighbours. Rather than synthesising the whole top (15+
minutes for the default design), each stage becomes one abstract cell with its port-level arcs and
the same longest-path pass runs over the chain: a register in one stage through the handshake of
others to a register in a third. The adapters are stages of rtl.json like the layers; the flag FIFO
that joins them directly (f_*) is left out of the chain, and the top's AXI-Stream ports, the chain's
ends, are taken as registered outside (arrival 0, no setup).

Delay model (7-series only, Zynq-7000 -1): figures named after the symbols of DS187 "Zynq-7000 SoC
(Z-7010..Z-7020) Data Sheet: DC and AC Switching Characteristics", speed grade -1, VCCINT 1.0V, in
DELAYS_Z7_1 with a source per row. DS187 itself was not at hand when they were checked, nor were DS181's
(Artix-7, the fabric of the Z-7010/Z-7020 programmable logic) CLB, block RAM and DSP tables. Verified:
the block RAM clock-to-out and address/data setup rows, from DS189 (Spartan-7, the same 7-series
RAMB36E1/RAMB18E1), v1.10, Table 30 "Block RAM and FIFO Switching Characteristics", -1 column at
VCCINT 1.0V. Every other figure (CLB LUT/mux/carry/flip-flop, LUT RAM and SRL, block RAM enable and
write-enable setups, all DSP48E1 arcs) was not found in a data sheet and remains approximate: the -1
figure as recalled from DS187 / Vivado -1 timing reports, to be corrected from DS187's tables when at
hand. Routing: ROUTE_NS per net hop to a load, none on dedicated routes (CARRY4 CO[3] -> CI, LUT -> MUXF7
-> MUXF8, LUT -> CARRY4 S/DI in its slice, DSP PCOUT -> PCIN). No data sheet gives it; it comes from the
place-and-route cross-check (benchmarks/pnr_crosscheck.py, issue 19 item 2): on the default build's 10
stages routed by nextpnr-ecp5 (LFE5U-85F speed 6), 1.2 ns per net is the smallest allowance at which no
estimate falls below its routed delay, i.e. 5.08 ECP5 LUT4 delays (0.236 ns); counted in LUT delays of
this fabric (TILO 0.124 ns) that is 0.63 ns. Routed nets measured 3.2-6.6 LUT delays (0.39-0.82 ns here,
median 0.50). Not modelled: fanout (high-fanout selects routed 2.5-3.5 ns on ECP5) and placement.
Zynq UltraScale+ (-2, DS925): DELAYS_ZUP_2 in rtl/delays_usplus.py, read by the same arcs (CARRY8, MUXF9,
DSP48E2, RAMB18E2/RAMB36E2 and RAM32M16/RAM64M8 take the 7-series cells' arcs under their own names).
"""
from __future__ import annotations

import json
import re
import time
from collections import defaultdict
from dataclasses import asdict, dataclass, replace
from pathlib import Path

from tqdm import tqdm

from sqzfpga.errors import UserError
from sqzfpga.parts import Part

# ---- delay model ------------------------------------------------------------------------------------
# ns, Zynq-7000 speed grade -1, symbol names of DS187. Per row: "DS189 T30" = verified from DS189 v1.10
# Table 30, -1, VCCINT 1.0V (Spartan-7 substitute for DS187, see the docstring); "approx." = not found
# in a data sheet, recalled figure.
DELAYS_Z7_1 = {
    # CLB (DS187 "CLB Switching Characteristics"; not found in DS187/DS181/DS189 copies at hand)
    "TILO": 0.124,      # approx.; LUT address An-Dn to output A-D (LUT6 / LUTn)
    "TIF7": 0.35,       # approx.; MUXF7 data/select to output
    "TIF8": 0.35,       # approx.; MUXF8 data/select to output
    "TCKO": 0.456,      # approx.; FF clock to AQ-DQ
    "TDICK": 0.05,      # approx.; FF D input setup (AX-DX direct; Vivado -1 reports ~-0.05..0.1)
    "TCECK": 0.20,      # approx.; FF CE setup
    "TSRCK": 0.52,      # approx.; FF SR (set/reset) setup
    "TCINCO": 0.114,    # approx.; CARRY4 CIN to COUT
    "TCINO": 0.30,      # approx.; CARRY4 CIN to O[n] (sum outputs)
    "TOPCYC": 0.53,     # approx.; CARRY4 S (propagate) inputs to COUT
    "TDICYC": 0.47,     # approx.; CARRY4 DI (generate) inputs to COUT
    "TOPS": 0.45,       # approx.; CARRY4 S inputs to O[n]
    "TDIO": 0.45,       # approx.; CARRY4 DI inputs to O[n]
    # SLICEM (DS187 "CLB Distributed RAM / Shift Register Switching Characteristics"; not found)
    "TSHCKO": 1.45,     # approx.; LUT RAM / SRL clock to output
    "TREG_A": 0.124,    # = TILO: UG474 "Distributed RAM Timing Characteristics" (asynchronous read, a LUT delay)
    "TDS": 0.50,        # approx.; LUT RAM / SRL data setup
    "TWS": 0.45,        # approx.; LUT RAM write enable / SRL CE setup
    "TAS": 0.60,        # approx.; LUT RAM write address setup
    # Block RAM (DS187 "Block RAM and FIFO Switching Characteristics")
    "TRCKO_DO": 2.46,   # DS189 T30; clock to DOUT without output register (DO[A|B]_REG = 0)
    "TRCKO_DO_REG": 0.89,  # DS189 T30; clock to DOUT with output register (DO[A|B]_REG = 1)
    "TRCCK_ADDR": 0.57,  # DS189 T30 (TRCCK_ADDRA); address setup
    "TRDCK_DI": 0.74,   # DS189 T30 (TRDCK_DI_WF_NC, WRITE_FIRST/NO_CHANGE); data input setup
    "TRCCK_WE": 0.60,   # approx. (row not in the DS189 copy read); write enable setup
    "TRCCK_EN": 0.45,   # approx. (rows not in the DS189 copy read); enable / REGCE / reset setup
    # DSP48E1 (DS187 "DSP48E1 Switching Characteristics"; not found), multiplier in use; all approx.
    "TDSPDO_A_P_MULT": 4.04,  # A/B/D input to P output, no internal registers
    "TDSPDO_C_P": 1.90,      # C / PCIN input to P output, no PREG
    "TDSPDO_OPMODE_P": 2.30,  # OPMODE / ALUMODE / CARRYIN input to P output, no PREG
    "TDSPDCK_A_AREG": 0.30,   # A/B/D input setup to AREG/BREG/DREG
    "TDSPDCK_A_MREG_MULT": 2.40,  # A/B input setup to MREG (no AREG/BREG)
    "TDSPDCK_A_PREG_MULT": 3.90,  # A/B input setup to PREG (no AREG/BREG, no MREG)
    "TDSPDCK_C_PREG": 1.65,   # C / PCIN input setup to PREG
    "TDSPDCK_CTRL": 0.60,     # OPMODE/ALUMODE/CE/RST setup to the register they control
    "TDSPCKO_P_PREG": 0.64,   # clock to P from PREG
    "TDSPCKO_P_MREG": 1.68,   # clock to P from MREG (no PREG)
    "TDSPCKO_P_AREG_MULT": 3.40,  # clock to P from AREG/BREG (no MREG, no PREG)
    "TDSPCKO_REG_REG": 2.10,  # AREG/BREG -> MREG or MREG -> PREG internal stage (as a reg-to-reg path)
}
ROUTE_NS = 0.63  # routing allowance per net hop: the ECP5 cross-check's covering allowance in LUT delays (above)
# (driver, its port, load, its port) joined by a dedicated wire in the slice or column: no routing allowance
DEDICATED_ROUTES = {("CARRY4", "CO", "CARRY4", "CI"), ("LUT", "O", "CARRY4", "S"), ("LUT", "O", "CARRY4", "DI"),
                    ("LUT", "O", "MUXF7", "I0"), ("LUT", "O", "MUXF7", "I1"), ("MUXF7", "O", "MUXF8", "I0"),
                    ("MUXF7", "O", "MUXF8", "I1"), ("DSP48E1", "PCOUT", "DSP48E1", "PCIN"),
                    ("DSP48E1", "ACOUT", "DSP48E1", "ACIN"), ("DSP48E1", "BCOUT", "DSP48E1", "BCIN")}
DEDICATED_ROUTES |= {(a.replace("CARRY4", "CARRY8").replace("DSP48E1", "DSP48E2"), p, b.replace("CARRY4", "CARRY8")
                      .replace("DSP48E1", "DSP48E2"), q) for a, p, b, q in DEDICATED_ROUTES} | \
    {("MUXF8", "O", "MUXF9", "I0"), ("MUXF8", "O", "MUXF9", "I1")}  # UltraScale+ (delays_usplus)


@dataclass(frozen=True)
class PathInfo:
    """One worst path: its delay, logic levels (combinational cells crossed) and end points."""
    ns: float
    levels: int
    start: str
    end: str
    through: tuple = ()  # the combinational cells (or stages) crossed, in order; kept for the worst path only


# ---- cell arcs ------------------------------------------------------------------------------------
# For a cell: comb arcs (in pin, out pin, ns), start pins (out pin, clock-to-out), end pins (in pin, setup);
# a pin is (port, bit index). Clock pins take part in nothing.
CLOCK_PORTS = {"C", "CLK", "WCLK", "CLKARDCLK", "CLKBWRCLK", "CLKA", "CLKB", "CLKARDCLKL", "CLKBWRCLKL"}


@dataclass
class CellArcs:
    comb: list  # (in_port, in_bit or None for all, out_port, out_bit or None, ns)
    starts: dict  # out_port -> ns (every bit)
    ends: dict  # in_port -> ns (every bit)
    level: int = 1  # logic levels a comb arc counts


def _param(cell: dict, name: str, default: int = 0) -> int:
    v = cell.get("parameters", {}).get(name, default)
    if isinstance(v, str):
        v = v.strip()
        if set(v) <= {"0", "1"} and len(v) > 1:
            return int(v, 2)
        try:
            return int(v)
        except ValueError:
            return default
    return int(v)


def _str_param(cell: dict, name: str, default: str) -> str:
    v = cell.get("parameters", {}).get(name, default)
    if isinstance(v, str) and v and set(v) <= {"0", "1"} and len(v) % 8 == 0:  # Yosys writes strings as bits
        v = int(v, 2).to_bytes(len(v) // 8, "big").decode(errors="replace")
    return str(v).strip()


def _dsp_arcs(cell: dict, d: dict) -> CellArcs:
    """DSP48E1: A/B(/D) through the multiplier (MREG) and the ALU (PREG); registers cut the path at
    their stage, an absent register makes its stage combinational."""
    areg = _param(cell, "AREG", 1) > 0 or _param(cell, "BREG", 1) > 0
    mreg = _param(cell, "MREG", 1) > 0 and _str_param(cell, "USE_MULT", "MULTIPLY") != "NONE"
    preg, creg = _param(cell, "PREG", 1) > 0, _param(cell, "CREG", 1) > 0
    comb, starts, ends = [], {}, {}
    outs = ("P", "PCOUT", "CARRYOUT", "CARRYCASCOUT", "MULTSIGNOUT", "PATTERNDETECT", "PATTERNBDETECT")
    ab = ("A", "B", "D", "ACIN", "BCIN")
    if areg:
        ends.update({p: d["TDSPDCK_A_AREG"] for p in ab})
    if preg:
        ck = d["TDSPCKO_P_PREG"]
    elif mreg:
        ck = d["TDSPCKO_P_MREG"]
    elif areg:
        ck = d["TDSPCKO_P_AREG_MULT"]
    else:
        ck = None
    if ck is not None:
        starts.update({p: ck for p in outs})
    if not areg:
        if mreg:
            ends.update({p: d["TDSPDCK_A_MREG_MULT"] for p in ab})
        elif preg:
            ends.update({p: d["TDSPDCK_A_PREG_MULT"] for p in ab})
        else:
            comb += [(i, None, o, None, d["TDSPDO_A_P_MULT"]) for i in ab for o in outs]
    for c in ("C", "PCIN", "CARRYIN", "CARRYCASCIN", "OPMODE", "ALUMODE", "CARRYINSEL"):
        own_reg = c in ("OPMODE", "ALUMODE", "CARRYIN", "CARRYINSEL")  # OPMODEREG, ..., CARRYINSELREG
        reg = creg if c == "C" else own_reg and _param(cell, f"{c}REG", 1) > 0
        if reg:
            ends[c] = d["TDSPDCK_CTRL"] if c != "C" else d["TDSPDCK_A_AREG"]
        elif preg:
            ends[c] = d["TDSPDCK_C_PREG"]
        else:
            delay = d["TDSPDO_C_P"] if c in ("C", "PCIN", "CARRYCASCIN") else d["TDSPDO_OPMODE_P"]
            comb += [(c, None, o, None, delay) for o in outs]
    for p in ("CEA1", "CEA2", "CEB1", "CEB2", "CEC", "CED", "CEAD", "CEM", "CEP", "CECTRL", "CEALUMODE",
              "CECARRYIN", "CEINMODE", "RSTA", "RSTB", "RSTC", "RSTD", "RSTM", "RSTP", "RSTCTRL", "RSTALLCARRYIN",
              "RSTALUMODE", "RSTINMODE", "INMODE"):
        ends[p] = d["TDSPDCK_CTRL"]
    starts.update({"ACOUT": d["TCKO"], "BCOUT": d["TCKO"]} if areg else {})
    return CellArcs(comb, starts, ends)


def _bram_arcs(cell: dict, d: dict) -> CellArcs:
    """RAMB18E1/RAMB36E1: synchronous on every input; DOA*/DOB* clock-to-out by DO[A|B]_REG."""
    a = d["TRCKO_DO_REG"] if _param(cell, "DOA_REG") else d["TRCKO_DO"]
    b = d["TRCKO_DO_REG"] if _param(cell, "DOB_REG") else d["TRCKO_DO"]
    starts = {"DOADO": a, "DOPADOP": a, "DOBDO": b, "DOPBDOP": b,
              "DOUTADOUT": a, "DOUTPADOUTP": a, "DOUTBDOUT": b, "DOUTPBDOUTP": b}  # E1 and E2 names
    named = {"ADDRARDADDR": d["TRCCK_ADDR"], "ADDRBWRADDR": d["TRCCK_ADDR"], "DIADI": d["TRDCK_DI"],
             "DIBDI": d["TRDCK_DI"], "DIPADIP": d["TRDCK_DI"], "DIPBDIP": d["TRDCK_DI"], "WEA": d["TRCCK_WE"],
             "WEBWE": d["TRCCK_WE"], "DINADIN": d["TRDCK_DI"], "DINBDIN": d["TRDCK_DI"], "DINPADINP": d["TRDCK_DI"],
             "DINPBDINP": d["TRDCK_DI"]}  # the other inputs: enables, output-register CE and resets
    ins = [p for p, dr in cell.get("port_directions", {}).items() if dr == "input" and p not in CLOCK_PORTS]
    return CellArcs([], starts, {p: named.get(p, d["TRCCK_EN"]) for p in [*named, *ins]})


def _lutram_arcs(ctype: str, cell: dict, d: dict) -> CellArcs:
    """LUT RAM (RAM32M/RAM64M/RAMnnX1D/S): written on the clock (data, address, WE set up), read through
    the address as a LUT; outputs also start at clock-to-out (a write changes them)."""
    outs = [p for p, dr in cell["port_directions"].items() if dr == "output"]
    ins = [p for p, dr in cell["port_directions"].items() if dr == "input" and p not in CLOCK_PORTS]
    ends = {p: d["TWS"] if p == "WE" else d["TAS"] if re.match(r"(ADDR|A\d|A$|DPRA)", p) else d["TDS"] for p in ins}
    comb = []
    for p in ins:
        m = re.fullmatch(r"ADDR([A-H])", p)
        if m:  # RAM32M / RAM64M: ADDRx reads DOx
            comb += [(p, None, o, None, d["TREG_A"]) for o in outs if o == f"DO{m.group(1)}"]
        elif p.startswith("DPRA"):
            comb += [(p, None, o, None, d["TREG_A"]) for o in outs if o == "DPO"]
        elif re.fullmatch(r"A\d?", p):
            comb += [(p, None, o, None, d["TREG_A"]) for o in outs if o in ("SPO", "O")]
    return CellArcs(comb, {o: d["TSHCKO"] for o in outs}, ends)


def cell_arcs(ctype: str, cell: dict, d: dict) -> CellArcs | None:
    """The timing arcs of one primitive; None for cells with no data path (constants, clock buffers)."""
    if re.fullmatch(r"LUT[1-6]", ctype) or ctype == "INV":
        n = int(ctype[3]) if ctype != "INV" else 1
        return CellArcs([(f"I{i}", None, "O", None, d["TILO"]) for i in range(n)] if ctype != "INV"
                        else [("I", None, "O", None, d["TILO"])], {}, {})
    if ctype in ("MUXF7", "MUXF8", "MUXF9"):
        return CellArcs([(p, None, "O", None, d[f"TIF{ctype[-1]}"]) for p in ("I0", "I1", "S")], {}, {})
    if ctype in ("CARRY4", "CARRY8"):  # CARRY8 (UltraScale+): CI_TOP taken as a second CI
        n = int(ctype[-1])
        comb = [(c, None, "CO", k, d["TCINCO"]) for c in ("CI", "CYINIT", "CI_TOP") for k in range(n)] + \
            [(c, None, "O", k, d["TCINO"]) for c in ("CI", "CYINIT", "CI_TOP") for k in range(n)]
        for j in range(n):
            for k in range(j, n):
                comb += [("S", j, "CO", k, d["TOPCYC"]), ("DI", j, "CO", k, d["TDICYC"]),
                         ("S", j, "O", k, d["TOPS"]), ("DI", j, "O", k, d["TDIO"])]
        return CellArcs(comb, {}, {})
    if re.fullmatch(r"FD[RSCP]E(_1)?", ctype):
        return CellArcs([], {"Q": d["TCKO"]}, {"D": d["TDICK"], "CE": d["TCECK"], "R": d["TSRCK"], "S": d["TSRCK"],
                                                "CLR": d["TSRCK"], "PRE": d["TSRCK"]})
    if ctype in ("SRL16E", "SRLC16E", "SRLC32E"):
        addr = ["A"] if ctype == "SRLC32E" else ["A0", "A1", "A2", "A3"]
        return CellArcs([(a, None, "Q", None, d["TREG_A"]) for a in addr], {"Q": d["TSHCKO"], "Q31": d["TSHCKO"],
                                                                            "Q15": d["TSHCKO"]},
                        {"D": d["TDS"], "CE": d["TWS"]})
    if re.fullmatch(r"RAM(32M16|64M8|32M|64M)|RAM(32|64|128|256|512)X1[DS]", ctype):
        return _lutram_arcs(ctype, cell, d)
    if re.fullmatch(r"RAMB(18|36)E[12]", ctype):
        return _bram_arcs(cell, d)
    if ctype in ("DSP48E1", "DSP48E2"):  # the same ports and register parameters where it matters here
        return _dsp_arcs(cell, d)
    if ctype in ("VCC", "GND", "BUFG", "BUFGCTRL", "IBUF", "OBUF", "IBUFG", "$scopeinfo"):  # no data path
        return None
    raise UserError(f"timing: cell type {ctype} has no entry in the delay model (sqzfpga/rtl/timing.py cell_arcs); "
                    f"add its arcs from DS187")


# ---- longest paths over one netlist ---------------------------------------------------------------
@dataclass
class Graph:
    """Nets (bit ids) and the arcs between them. arcs[src] = [(dst, ns, levels, via)]; starts[net] =
    (ns, name, kind, levels); ends = [(net, ns, name, kind)]; kind 'reg' or a port name."""
    arcs: dict
    starts: dict
    ends: list
    names: dict  # net -> driver "cell.port"


def _driver_of(netlist_top: dict) -> dict:
    drv = {}
    for cname, cell in netlist_top["cells"].items():
        for port, bits in cell["connections"].items():
            if cell.get("port_directions", {}).get(port) == "output":
                for i, b in enumerate(bits):
                    if isinstance(b, int):
                        drv[b] = (cname, cell["type"], port, i)
    return drv


def build_graph(top: dict, delays: dict, route_ns: float = ROUTE_NS, arcs_of=None, dedicated=None) -> Graph:
    """The timing graph of one flattened Yosys module (write_json's `modules[top]`); `arcs_of` and
    `dedicated` replace cell_arcs and DEDICATED_ROUTES for another family (rtl/delays_ecp5.py)."""
    arcs_of, dedicated = arcs_of or cell_arcs, DEDICATED_ROUTES if dedicated is None else dedicated
    drv = _driver_of(top)
    arcs, starts, ends = defaultdict(list), {}, []
    names = {b: f"{c}.{p}[{i}]" for b, (c, _, p, i) in drv.items()}

    def hop(net, load_type, load_port) -> float:
        src = drv.get(net)
        if src is None:
            return route_ns
        _, st, sp, si = src
        return 0.0 if ("LUT" if re.fullmatch(r"LUT[1-6]", st) else st, sp, load_type, load_port) in dedicated \
            else route_ns

    for cname, cell in top["cells"].items():
        ctype = cell["type"]
        ca = arcs_of(ctype, cell, delays)
        if ca is None:
            continue
        conn = cell["connections"]
        for port, t in ca.starts.items():
            for i, b in enumerate(conn.get(port, [])):
                if isinstance(b, int):
                    starts[b] = (t, f"{cname}.{port}[{i}]", "reg", 0)
        for port, bits in conn.items():
            if port in CLOCK_PORTS or port not in ca.ends:
                continue
            for i, b in enumerate(bits):
                if isinstance(b, int):
                    ends.append((b, hop(b, ctype, port) + ca.ends[port], f"{cname}.{port}[{i}]", "reg"))
        for ip, ib, op, ob, t in ca.comb:
            ibits, obits = conn.get(ip, []), conn.get(op, [])
            for i, b in enumerate(ibits):
                if not isinstance(b, int) or (ib is not None and i != ib):
                    continue
                for k, o in enumerate(obits):
                    if isinstance(o, int) and (ob is None or k == ob):
                        arcs[b].append((o, hop(b, ctype, ip) + t, ca.level, cname))
    for pname, port in top["ports"].items():
        for i, b in enumerate(port["bits"]):
            if not isinstance(b, int):
                continue
            if port["direction"] == "input":
                starts.setdefault(b, (0.0, f"{pname}[{i}]", pname, 0))
                names.setdefault(b, f"{pname}[{i}]")
            else:
                ends.append((b, 0.0, f"{pname}[{i}]", pname))
    return Graph(dict(arcs), starts, ends, names)


def longest(g: Graph, source_kind: str | None = None) -> dict:
    """Arrival (ns, levels, start name, (previous net, cell) or None) per net from the starts of
    `source_kind` ('reg' or a port name; None: all); raises UserError on a combinational loop."""
    indeg = defaultdict(int)
    for src, outs in g.arcs.items():
        for dst, *_ in outs:
            indeg[dst] += 1
    arr = {n: (t, lv, name, None) for n, (t, name, kind, lv) in g.starts.items() if source_kind in (None, kind)}
    queue = [n for n in set(g.arcs) | set(g.starts) if indeg[n] == 0]
    seen = 0
    while queue:
        n = queue.pop()
        seen += 1
        a = arr.get(n)
        for dst, t, lv, via in g.arcs.get(n, ()):
            if a is not None:
                cand = (a[0] + t, a[1] + lv, a[2], (n, via))
                if dst not in arr or cand[0] > arr[dst][0]:
                    arr[dst] = cand
            indeg[dst] -= 1
            if indeg[dst] == 0:
                queue.append(dst)
    loop = [n for n, k in indeg.items() if k > 0]
    if loop:
        cells = sorted({via for n in loop for dst, _, _, via in g.arcs.get(n, ()) if dst in loop})
        raise UserError(f"timing: combinational loop through {len(cells)} cell(s) ({', '.join(cells[:5])}"
                        f"{' ...' if len(cells) > 5 else ''}); a loop has no longest path: break it with a register")
    return arr


@dataclass
class StageTiming:
    """One stage's worst paths: overall, register to register, and per port pair (for the chain)."""
    worst: PathInfo | None
    reg_to_reg: PathInfo | None
    in_to_reg: dict  # input port -> PathInfo
    reg_to_out: dict  # output port -> PathInfo
    in_to_out: dict  # (input port, output port) -> PathInfo


def _better(a: PathInfo | None, b: PathInfo) -> PathInfo:
    return b if a is None or b.ns > a.ns else a


def analyse(top: dict, delays: dict, route_ns: float = ROUTE_NS, arcs_of=None, dedicated=None) -> StageTiming:
    """Worst paths of one flattened module, by kind (`arcs_of`, `dedicated`: as build_graph)."""
    g = build_graph(top, delays, route_ns, arcs_of, dedicated)
    st = StageTiming(None, None, {}, {}, {})
    inputs = [p for p, v in top["ports"].items() if v["direction"] == "input"]
    for kind in ["reg", *inputs]:
        arr = longest(g, kind)
        for net, setup, name, ekind in g.ends:
            if net not in arr:
                continue
            t, lv, start, _ = arr[net]
            p = PathInfo(round(t + setup, 3), lv, start, name)
            if kind == "reg" and ekind == "reg":
                st.reg_to_reg = _better(st.reg_to_reg, p)
            elif kind == "reg":
                st.reg_to_out[ekind] = _better(st.reg_to_out.get(ekind), p)
            elif ekind == "reg":
                st.in_to_reg[kind] = _better(st.in_to_reg.get(kind), p)
            else:
                st.in_to_out[(kind, ekind)] = _better(st.in_to_out.get((kind, ekind)), p)
            if st.worst is None or p.ns > st.worst.ns:
                st.worst = replace(p, through=through(arr, net))
    return st


def through(arr: dict, net) -> tuple:
    """The cells a longest path crossed to reach `net`, from `longest`'s back links."""
    cells = []
    while arr[net][3] is not None:
        net, via = arr[net][3]
        cells.append(via)
    return tuple(reversed(cells))


def netlist_module(netlist: dict, name: str | None = None) -> dict:
    """The top module of a write_json netlist (the one with attribute top, or `name`)."""
    mods = netlist["modules"]
    if name and name in mods:
        return mods[name]
    tops = [m for m in mods.values() if "1" in str(m.get("attributes", {}).get("top", "0"))]
    if not tops:
        raise UserError(f"timing: no top module {name!r} in the netlist")
    return tops[0]


# ---- the chain of stages ---------------------------------------------------------------------------
PORT_NET = {"s_valid": ("V", -1), "s_data": ("D", -1), "s_ready": ("R", -1),
            "m_valid": ("V", 0), "m_data": ("D", 0), "m_ready": ("R", 0)}


def chain(stages: list[tuple[str, StageTiming]]) -> PathInfo | None:
    """The worst path over the chain of stages joined by valid/ready/data (module docstring)."""
    n = len(stages)
    arcs, starts, ends = defaultdict(list), {}, []

    def net(k, port):  # stage k (1-based)'s port -> the top's net ("V", boundary)
        kind, off = PORT_NET[port]
        return f"{kind}{k + off}"

    for k, (name, st) in enumerate(stages, 1):
        for port, p in st.reg_to_out.items():
            if port in PORT_NET:
                nt = net(k, port)
                if nt not in starts or p.ns > starts[nt][0]:
                    starts[nt] = (p.ns, f"{name}/{p.start}", "reg", p.levels)
        for port, p in st.in_to_reg.items():
            if port in PORT_NET:
                ends.append((net(k, port), p.ns, f"{name}/{p.end}", p.levels))
        for (i, o), p in st.in_to_out.items():
            if i in PORT_NET and o in PORT_NET:
                arcs[net(k, i)].append((net(k, o), p.ns, p.levels, name))
    # the adapters at the chain's ends: registered (arrival 0 from them, no setup into them)
    for nt in ("V0", "D0", f"R{n}"):
        starts.setdefault(nt, (0.0, "input_adapter" if nt != f"R{n}" else "output_adapter", "reg", 0))
    ends += [("R0", 0.0, "input_adapter", 0), (f"V{n}", 0.0, "output_adapter", 0), (f"D{n}", 0.0, "output_adapter", 0)]
    arr = longest(Graph(dict(arcs), starts, [], {}), "reg")
    worst = None
    for nt, t, name, lv in ends:
        if nt in arr:
            a = arr[nt]
            if worst is None or a[0] + t > worst.ns:
                stages = [a[2].split("/")[0], *through(arr, nt), name.split("/")[0]]
                worst = PathInfo(round(a[0] + t, 3), a[1] + lv, a[2], name, tuple(dict.fromkeys(stages)))
    return worst


# ---- the command -------------------------------------------------------------------------------------
COVERED = ("zynq7", "zynqmp")  # families with a delay model (delay_model)


def covers(part: Part) -> bool:
    """Whether the delay model covers `part`'s family (else its clock stays unanalysed)."""
    return part.family.name in COVERED


def delay_model(part: Part) -> dict:
    if part.family.name == "zynqmp":
        from sqzfpga.rtl.delays_usplus import DELAYS_ZUP_2
        return DELAYS_ZUP_2
    if not covers(part):
        raise UserError(f"timing: part {part.name} ({part.family.name}): the delay model covers Zynq-7000 (-1) and "
                        f"Zynq UltraScale+ (-2) only; use an xc7z or xczu part (e.g. --part xc7z020)")
    return DELAYS_Z7_1


def _path_dict(p: PathInfo | None, stage: str | None = None) -> dict | None:
    return None if p is None else {**({"stage": stage} if stage else {}), **asdict(p)}


def estimate(rtl: Path, part: Part, timeout: int = 3600, show_progress: bool = False, jobs: int = 2) -> dict:
    """The `timing` command: each stage's netlist (reusing rtl/synth/NAME_netlist.json from an earlier
    run, else Yosys with a time limit per stage), its worst paths, and the chain; writes rtl/timing.json."""
    from concurrent.futures import ThreadPoolExecutor

    from sqzfpga.rtl.synth import run_yosys

    delays = delay_model(part)
    route_ns = delays.get("ROUTE_NS", ROUTE_NS)  # the family's allowance where its model has one
    manifest = json.loads((rtl / "rtl.json").read_text())
    sources = [s for s in manifest["sources"] if s != f"{manifest['top']}.sv"]
    (rtl / "synth").mkdir(exist_ok=True)
    t0 = time.time()
    with tqdm(total=len(manifest["stages"]), desc="[timing] stages", unit="stage", disable=not show_progress,
              leave=False) as bar:
        def one(st):
            path = rtl / "synth" / f"{st['name']}_netlist.json"
            if not path.exists():
                run_yosys(rtl, sources, st["module"], part, st["params"], timeout=timeout, tag=f"synth/{st['name']}",
                          no_pads=True, netlist=True)
            res = analyse(netlist_module(json.loads(path.read_text()), st["module"]), delays, route_ns)
            bar.update(1)
            return st["name"], res
        with ThreadPoolExecutor(max_workers=jobs) as pool:
            stages = list(pool.map(one, manifest["stages"]))
    cands = [(p, name) for name, s in stages if (p := s.worst) is not None]
    cross = chain(stages)
    if cross is not None:
        cands.append((cross, " -> ".join(cross.through)))  # the stages it crosses
    if not cands:
        raise UserError(f"timing: no register or port paths in the netlists under {rtl / 'synth'}")
    worst, where = max(cands, key=lambda c: c[0].ns)
    res = {"part": part.name, "speed_grade": -2 if part.family.name == "zynqmp" else -1, "route_ns_per_net": route_ns,
           "fmax_mhz": round(1000 / worst.ns, 1) if worst.ns > 0 else None,
           "critical_path": _path_dict(worst, where), "chain": _path_dict(cross),
           "stages": {name: {"fmax_mhz": round(1000 / s.worst.ns, 1) if s.worst and s.worst.ns > 0 else None,
                             "critical_path": _path_dict(s.worst), "reg_to_reg": _path_dict(s.reg_to_reg)}
                      for name, s in stages},
           "timing_s": round(time.time() - t0, 1)}
    (rtl / "timing.json").write_text(json.dumps(res, indent=1) + "\n")
    return res
