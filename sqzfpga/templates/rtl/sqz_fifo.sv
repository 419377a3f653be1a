// First-word-fall-through FIFO over a synchronously read memory (block RAM when deep): the output
// register is refilled from the memory whenever it is empty or being taken, so a beat can enter
// and leave every cycle. DEPTH counts the memory entries; one more beat waits in the output register.
module sqz_fifo #(
    parameter int WIDTH = 8,
    parameter int DEPTH = 4,
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
  localparam int AB = (DEPTH > 1) ? $clog2(DEPTH) : 1;
  localparam int MD = 1 << AB;
  logic [AB-1:0] wp, rp;
  logic [AB:0] count;
  logic wr, rd;
  assign s_ready = count < (AB+1)'(DEPTH);
  assign wr = s_valid && s_ready;
  assign rd = (count != 0) && (!m_valid || m_ready);
  sqz_ram #(.WIDTH(WIDTH), .DEPTH(MD), .STYLE(STYLE)) ram (
      .clk, .we(wr), .waddr(wp), .wdata(s_data), .re(rd), .raddr(rp), .rdata(m_data));
  always_ff @(posedge clk) begin
    if (rst) begin
      wp <= '0;
      rp <= '0;
      count <= '0;
      m_valid <= 1'b0;
    end else begin
      if (wr) wp <= (wp == AB'(DEPTH - 1)) ? '0 : wp + 1'b1;
      if (rd) rp <= (rp == AB'(DEPTH - 1)) ? '0 : rp + 1'b1;
      count <= count + (AB+1)'(wr) - (AB+1)'(rd);
      if (rd) m_valid <= 1'b1;
      else if (m_ready) m_valid <= 1'b0;
    end
  end
endmodule
