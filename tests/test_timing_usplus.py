"""The UltraScale+ delay model (rtl/delays_usplus.py) on a small module synthesised for xczu9eg (about 15 s).

One Yosys `synth_xilinx -family xcup` run on a multiplier, a block RAM, a LUT RAM and adders; the
timing pass must know every primitive it maps to (DSP48E2, RAMB18E2, RAM64M8, the carry chain) and
price its worst path from the -2 table, not from the Zynq-7000 one.
"""
from __future__ import annotations

import json

import pytest

from sqzfpga.errors import UserError
from sqzfpga.parts import get_part
from sqzfpga.rtl.delays_usplus import DELAYS_ZUP_2
from sqzfpga.rtl.synth import run_yosys
from sqzfpga.rtl.timing import DELAYS_Z7_1, analyse, build_graph, cell_arcs, delay_model, netlist_module

SMALL = """
module small (input logic clk, input logic [15:0] a, input logic [15:0] b, input logic [8:0] wa,
              input logic [8:0] ra, input logic we, input logic [17:0] wd, output logic [35:0] acc,
              output logic [17:0] q, output logic [7:0] lq, output logic [31:0] cnt);
  logic [15:0] ar, br;
  logic [31:0] m;
  (* ram_style = "block" *) logic [17:0] mem [0:511];
  (* ram_style = "distributed" *) logic [7:0] lmem [0:63];
  always_ff @(posedge clk) begin
    ar <= a; br <= b; m <= ar * br; acc <= acc + m;
    if (we) mem[wa] <= wd;
    q <= mem[ra];
    if (we) lmem[wa[5:0]] <= wd[7:0];
    cnt <= cnt + {a, b};
  end
  assign lq = lmem[ra[5:0]];
endmodule
"""


@pytest.fixture(scope="module")
def netlist(tmp_path_factory):
    folder = tmp_path_factory.mktemp("usplus")
    (folder / "small.sv").write_text(SMALL)
    cells = run_yosys(folder, ["small.sv"], "small", get_part("xczu9eg"), tag="small", no_pads=True, netlist=True,
                      timeout=300)
    return cells, netlist_module(json.loads((folder / "small_netlist.json").read_text()), "small")


def test_xczu9eg_takes_the_usplus_table_and_xc7z020_keeps_its_own():
    assert delay_model(get_part("xczu9eg")) is DELAYS_ZUP_2
    assert delay_model(get_part("xc7z020")) is DELAYS_Z7_1


def test_every_primitive_of_an_xcup_netlist_has_arcs(netlist):
    cells, top = netlist
    assert {"DSP48E2", "RAMB18E2", "RAM64M8", "FDRE"} <= set(cells), cells
    for cell in top["cells"].values():
        cell_arcs(cell["type"], cell, DELAYS_ZUP_2)  # raises UserError on a type the model lacks
    with pytest.raises(UserError, match="no entry in the delay model"):
        cell_arcs("URAM288", {"parameters": {}, "connections": {}}, DELAYS_ZUP_2)


def test_block_ram_e2_outputs_start_paths_at_its_clock_to_out(netlist):
    _, top = netlist
    g = build_graph(top, DELAYS_ZUP_2, DELAYS_ZUP_2["ROUTE_NS"])
    ram = [s for s in g.starts.values() if ".DOUTADOUT[" in s[1]]
    assert ram and all(s[0] in (DELAYS_ZUP_2["TRCKO_DO"], DELAYS_ZUP_2["TRCKO_DO_REG"]) for s in ram)


def test_worst_path_is_the_unregistered_dsp48e2_priced_at_minus_2(netlist):
    """Yosys keeps the multiplier's registers in fabric here (AREG = MREG = PREG = 0): FF -> DSP A/B -> P -> FF."""
    _, top = netlist
    d, route = DELAYS_ZUP_2, DELAYS_ZUP_2["ROUTE_NS"]
    st = analyse(top, d, route)
    want = round(d["TCKO"] + route + d["TDSPDO_A_P_MULT"] + route + d["TDICK"], 3)
    assert st.reg_to_reg.ns == pytest.approx(want, abs=1e-3)
    z7 = analyse(top, DELAYS_Z7_1)  # the same netlist priced with the Zynq-7000 -1 table: much slower
    assert z7.reg_to_reg.ns > st.reg_to_reg.ns * 1.5
