// Memories with one write port and one synchronous read port (with read enable, so a stalled
// pipeline keeps its read data), and a ROM initialised from a $readmemh file. STYLE "block" maps
// them to block RAM, "distributed" to LUT RAM (Yosys / Vivado ram_style / rom_style attributes).
module sqz_ram #(
    parameter int WIDTH = 8,
    parameter int DEPTH = 16,
    parameter string STYLE = "block"
) (
    input  logic                     clk,
    input  logic                     we,
    input  logic [$clog2(DEPTH)-1:0] waddr,
    input  logic [WIDTH-1:0]         wdata,
    input  logic                     re,
    input  logic [$clog2(DEPTH)-1:0] raddr,
    output logic [WIDTH-1:0]         rdata
);
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
    parameter int WIDTH = 8,
    parameter int DEPTH = 16,
    parameter string FILE = "",
    parameter string STYLE = "block"
) (
    input  logic                     clk,
    input  logic                     re,
    input  logic [$clog2(DEPTH)-1:0] addr,
    output logic [WIDTH-1:0]         data
);
  generate
    if (STYLE == "block") begin : g_block
      (* rom_style = "block" *) logic [WIDTH-1:0] mem [DEPTH];
      initial $readmemh(FILE, mem);
      always_ff @(posedge clk) if (re) data <= mem[addr];
    end else begin : g_dist
      (* rom_style = "distributed" *) logic [WIDTH-1:0] mem [DEPTH];
      initial $readmemh(FILE, mem);
      always_ff @(posedge clk) if (re) data <= mem[addr];
    end
  endgenerate
endmodule
