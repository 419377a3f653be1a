// Stream plumbing: fork (one stream to two consumers), bypass add (joins a Fire's expand output
// with its bypass), and the DMA-side width adapters (bytes in, one 32-bit word per class score out).
module sqz_fork #(parameter int WIDTH = 8) (
    input  logic s_valid, output logic s_ready, input logic [WIDTH-1:0] s_data,
    output logic a_valid, input logic a_ready, output logic [WIDTH-1:0] a_data,
    output logic b_valid, input logic b_ready, output logic [WIDTH-1:0] b_data
);
  assign s_ready = a_ready && b_ready;
  assign a_valid = s_valid && b_ready;
  assign b_valid = s_valid && a_ready;
  assign a_data = s_data;
  assign b_data = s_data;
endmodule

// out = requant(a + requant_b(b)): b (the bypass) is first brought to a's type (identity bypass:
// ReLU and rounding as Quant does; conv bypass: already in a's type, BD = 0, no ReLU).
module sqz_add #(
    parameter int C = 4, AB = 8, BB = 8,
    parameter bit ASIGNED = 0, BSIGNED = 0,
    parameter int BD = 0,
    parameter bit BRELU = 0,
    parameter int OB = 8,
    parameter bit OSIGNED = 0,
    parameter int OD = 0,
    parameter bit ORELU = 0
) (
    input  logic            a_valid, output logic a_ready, input logic [C*AB-1:0] a_data,
    input  logic            b_valid, output logic b_ready, input logic [C*BB-1:0] b_data,
    output logic            m_valid, input logic m_ready, output logic [C*OB-1:0] m_data
);
  localparam int SW = ((AB > BB) ? AB : BB) + 3;
  assign m_valid = a_valid && b_valid;
  assign a_ready = b_valid && m_ready;
  assign b_ready = a_valid && m_ready;
  genvar c;
  generate
    for (c = 0; c < C; c++) begin : g_ch
      logic signed [BB:0] bx;
      logic [AB-1:0] bq;
      logic signed [SW-1:0] s;
      assign bx = BSIGNED ? {b_data[c * BB + BB - 1], b_data[c * BB +: BB]} : {1'b0, b_data[c * BB +: BB]};
      sqz_requant #(.AW(BB + 1), .D(BD), .OB(AB), .OSIGNED(ASIGNED), .RELU(BRELU)) rb (.a(bx), .q(bq));
      assign s = (ASIGNED ? SW'($signed(a_data[c * AB +: AB])) : SW'($signed({1'b0, a_data[c * AB +: AB]})))
               + (ASIGNED ? SW'($signed(bq)) : SW'($signed({1'b0, bq})));
      sqz_requant #(.AW(SW), .D(OD), .OB(OB), .OSIGNED(OSIGNED), .RELU(ORELU)) ro (.a(s), .q(m_data[c * OB +: OB]));
    end
  endgenerate
endmodule

// AXI-Stream bytes -> pixels of C channels (the low IB bits of each byte), and the batch framing of
// driver/layout.py: bytes are counted in frames of FRAME; the TLAST that comes with a frame's last
// byte marks it the batch's last (TLAST on any other byte is ignored). That flag, one per frame, goes
// through a FIFO of FLAGS entries (plus its output register) to the output adapter (f_*). When the FIFO
// is full, a frame's last byte waits, so the depth only affects throughput, never correctness.
module sqz_bytes_to_pixels #(parameter int C = 1, IB = 8, FRAME = 1, FLAGS = 2) (
    input  logic            clk, rst,
    input  logic            s_valid, output logic s_ready, input logic [7:0] s_data, input logic s_last,
    output logic            m_valid, input logic m_ready, output logic [C*IB-1:0] m_data,
    output logic            f_valid, input logic f_ready, output logic f_last
);
  localparam int FB = (FRAME > 1) ? $clog2(FRAME) : 1;
  logic [FB-1:0] b;
  logic at_end, q_ready, p_valid, p_ready;
  assign at_end = b == FB'(FRAME - 1);
  assign p_valid = s_valid && (!at_end || q_ready);
  assign s_ready = p_ready && (!at_end || q_ready);
  sqz_fifo #(.WIDTH(1), .DEPTH(FLAGS)) flags (
      .clk, .rst, .s_valid(s_valid && at_end && p_ready), .s_ready(q_ready), .s_data(s_last),
      .m_valid(f_valid), .m_ready(f_ready), .m_data(f_last));
  always_ff @(posedge clk) begin
    if (rst) b <= '0;
    else if (s_valid && s_ready) b <= at_end ? '0 : b + 1'b1;
  end
  generate
    if (C == 1) begin : g_one
      assign m_valid = p_valid;
      assign p_ready = m_ready;
      assign m_data = s_data[IB-1:0];
    end else begin : g_many
      logic [15:0] n;
      logic [(C-1)*IB-1:0] part;
      assign m_valid = p_valid && n == 16'(C - 1);
      assign p_ready = (n != 16'(C - 1)) || m_ready;
      assign m_data = {s_data[IB-1:0], part};
      always_ff @(posedge clk) begin
        if (rst) n <= '0;
        else if (p_valid && p_ready) begin
          if (n == 16'(C - 1)) n <= '0;
          else begin
            for (int k = 0; k < C - 1; k++)
              if (n == 16'(k)) part[k * IB +: IB] <= s_data[IB-1:0];
            n <= n + 1'b1;
          end
        end
      end
    end
  endgenerate
endmodule

// One vector of C scores per pixel -> C beats of 32-bit words (sign- or zero-extended). A frame's
// final word (of NPIX pixels) waits for that frame's flag from the input adapter (f_*), takes it, and
// carries it as m_last: TLAST only at the end of the batch (driver/layout.py).
module sqz_scores_to_words #(parameter int C = 10, OB = 16, parameter bit OSIGNED = 0, parameter int NPIX = 1) (
    input  logic            clk, rst,
    input  logic            s_valid, output logic s_ready, input logic [C*OB-1:0] s_data,
    output logic            m_valid, input logic m_ready, output logic [31:0] m_data, output logic m_last,
    input  logic            f_valid, output logic f_ready, input logic f_last
);
  logic [15:0] n, p;
  logic [OB-1:0] v;
  logic pix_last, frame_last, go;
  localparam int CB = (C > 1) ? $clog2(C) : 1;
  logic [OB-1:0] score [C];
  genvar gc;
  generate
    for (gc = 0; gc < C; gc++) begin : g_score
      assign score[gc] = s_data[gc * OB +: OB];
    end
  endgenerate
  assign v = score[CB'(n)];
  assign pix_last = n == 16'(C - 1);
  assign frame_last = pix_last && p == 16'(NPIX - 1);
  assign go = !frame_last || f_valid;
  assign m_valid = s_valid && go;
  assign m_last = frame_last && f_last;
  assign s_ready = m_ready && pix_last && go;
  assign f_ready = frame_last && s_valid && m_ready;
  assign m_data = OSIGNED ? 32'($signed(v)) : 32'(v);
  always_ff @(posedge clk) begin
    if (rst) begin
      n <= '0;
      p <= '0;
    end else if (m_valid && m_ready) begin
      n <= pix_last ? '0 : n + 1'b1;
      if (pix_last) p <= frame_last ? '0 : p + 1'b1;
    end
  end
endmodule
