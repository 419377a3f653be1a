// Memories with one write port and one synchronous read port (with read enable, so a stalled
// pipeline keeps its read data), and a ROM initialised from a $readmemh file. STYLE "block" maps
// them to block RAM; otherwise RAMs go to LUT RAM and small ROMs to LUT logic (ram_style /
// rom_style attributes, read by Yosys and Vivado).
module sqz_ram #(
    // bits per word (>= 1)
    parameter int WIDTH = 8,
    // words (>= 1), addressed 0 .. DEPTH - 1
    parameter int DEPTH = 16,
    // memory resource: "block" (block RAM), anything else LUT RAM ("distributed")
    parameter STYLE = "block"
) (
    input  logic                     clk,
    input  logic                     we,
    input  logic [$clog2(DEPTH)-1:0] waddr,
    input  logic [WIDTH-1:0]         wdata,
    input  logic                     re,
    input  logic [$clog2(DEPTH)-1:0] raddr,
    output logic [WIDTH-1:0]         rdata
);
  // parameter checks at elaboration: Verilator (lint, simulation) and Yosys stop on a failed one
  if (WIDTH < 1 || DEPTH < 1) begin : g_check1
    $error("Error: WIDTH (%0d) and DEPTH (%0d) must be at least 1", WIDTH, DEPTH);
  end

  generate
    if (STYLE == "block") begin : g_block
      (* ram_style = "block" *) logic [WIDTH-1:0] mem [DEPTH];
      always_ff @(posedge clk) begin
        if (we) mem[waddr] <= wdata;
        if (re) rdata <= mem[raddr];
      end
    end else begin : g_dist
      (* ram_style = "distributed" *) logic [WIDTH-1:0] mem [DEPTH];
      always_ff @(posedge clk) begin
        if (we) mem[waddr] <= wdata;
        if (re) rdata <= mem[raddr];
      end
    end
  endgenerate
endmodule

module sqz_rom #(
    // bits per word (>= 1)
    parameter int WIDTH = 8,
    // words (>= 1), addressed 0 .. DEPTH - 1
    parameter int DEPTH = 16,
    // $readmemh file with DEPTH hexadecimal words ("": not initialised)
    parameter FILE = "",
    // memory resource: "block" (block RAM), anything else LUT logic ("distributed")
    parameter STYLE = "block"
) (
    input  logic                     clk,
    input  logic                     re,
    input  logic [((DEPTH > 1) ? $clog2(DEPTH) : 1)-1:0] addr,  // one bit (unused) for one word
    output logic [WIDTH-1:0]         data
);
  // parameter checks at elaboration: Verilator (lint, simulation) and Yosys stop on a failed one
  if (WIDTH < 1 || DEPTH < 1) begin : g_check2
    $error("Error: WIDTH (%0d) and DEPTH (%0d) must be at least 1", WIDTH, DEPTH);
  end

  generate
    if (STYLE == "block") begin : g_block
      (* rom_style = "block" *) logic [WIDTH-1:0] mem [DEPTH];
      if (FILE != "") begin : g_init
        initial $readmemh(FILE, mem);
      end
      always_ff @(posedge clk) if (re) data <= mem[addr];
    end else begin : g_dist
      (* rom_style = "logic" *) logic [WIDTH-1:0] mem [DEPTH];
      if (FILE != "") begin : g_init
        initial $readmemh(FILE, mem);
      end
      always_ff @(posedge clk) if (re) data <= mem[addr];
    end
  endgenerate
endmodule
