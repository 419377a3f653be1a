// First-word-fall-through FIFO over a synchronously read memory (block RAM when deep): the output
// register is refilled from the memory whenever it is empty or being taken, so a beat can enter
// and leave every cycle. DEPTH counts the memory entries; one more beat waits in the output register.
module sqz_fifo #(
    // bits per beat (>= 1)
    parameter int WIDTH = 8,
    // beats held in the memory (>= 1), besides the one in the output register
    parameter int DEPTH = 4,
    // memory resource: "block" (block RAM), anything else LUT RAM ("distributed")
    parameter STYLE = "distributed"
) (
    input  logic             clk,
    input  logic             rst,
    input  logic             s_valid,
    output logic             s_ready,
    input  logic [WIDTH-1:0] s_data,
    output logic             m_valid,
    input  logic             m_ready,
    output logic [WIDTH-1:0] m_data
);
  // parameter checks at elaboration: Verilator (lint, simulation) and Yosys stop on a failed one
  if (WIDTH < 1 || DEPTH < 1) begin : g_check1
    $error("Error: WIDTH (%0d) and DEPTH (%0d) must be at least 1", WIDTH, DEPTH);
  end

  localparam int ADDR_BITS = (DEPTH > 1) ? $clog2(DEPTH) : 1;
  localparam int MEM_DEPTH = 1 << ADDR_BITS;
  logic [ADDR_BITS-1:0] wr_ptr, rd_ptr;
  logic [ADDR_BITS:0] count;  // beats in the memory
  logic push, pop;            // a beat enters the memory / moves from it to the output register
  assign s_ready = count < (ADDR_BITS+1)'(DEPTH);
  assign push = s_valid && s_ready;
  assign pop = (count != 0) && (!m_valid || m_ready);
  sqz_ram #(.WIDTH(WIDTH), .DEPTH(MEM_DEPTH), .STYLE(STYLE)) ram (
      .clk, .we(push), .waddr(wr_ptr), .wdata(s_data), .re(pop), .raddr(rd_ptr), .rdata(m_data));
  always_ff @(posedge clk) begin
    if (rst) begin
      wr_ptr <= '0;
      rd_ptr <= '0;
      count <= '0;
      m_valid <= 1'b0;
    end else begin
      if (push) wr_ptr <= (wr_ptr == ADDR_BITS'(DEPTH - 1)) ? '0 : wr_ptr + 1'b1;
      if (pop) rd_ptr <= (rd_ptr == ADDR_BITS'(DEPTH - 1)) ? '0 : rd_ptr + 1'b1;
      count <= count + (ADDR_BITS+1)'(push) - (ADDR_BITS+1)'(pop);
      if (pop) m_valid <= 1'b1;
      else if (m_ready) m_valid <= 1'b0;
    end
  end
endmodule
