// Stream plumbing: fork (one stream to two consumers), bypass add (joins a Fire's expand output
// with its bypass), and the DMA-side width adapters (bytes in, one 32-bit word per class score out).
module sqz_fork #(
    // bits per beat (>= 1)
    parameter int WIDTH = 8
) (
    input  logic s_valid, output logic s_ready, input logic [WIDTH-1:0] s_data,
    output logic a_valid, input logic a_ready, output logic [WIDTH-1:0] a_data,
    output logic b_valid, input logic b_ready, output logic [WIDTH-1:0] b_data
);
  // parameter checks at elaboration: Verilator (lint, simulation) and Yosys stop on a failed one
  if (WIDTH < 1) begin : g_check1
    $error("Error: WIDTH (%0d) must be at least 1", WIDTH);
  end

  assign s_ready = a_ready && b_ready;
  assign a_valid = s_valid && b_ready;
  assign b_valid = s_valid && a_ready;
  assign a_data = s_data;
  assign b_data = s_data;
endmodule

// out = requant(a + requant_b(b)): b (the bypass) is first brought to a's type (identity bypass:
// ReLU and rounding as Quant does; conv bypass: already in a's type, BD = 0, no ReLU).
module sqz_add #(
    // channels per beat, on all three streams (>= 1)
    parameter int C = 4,
    // bits per channel of a, the expand output (>= 1)
    parameter int AB = 8,
    // bits per channel of b, the bypass (>= 1)
    parameter int BB = 8,
    // a is signed
    parameter bit ASIGNED = 0,
    // b is signed
    parameter bit BSIGNED = 0,
    // shift that brings b to a's binary point: b's fraction bits minus a's (see sqz_requant's D)
    parameter int BD = 0,
    // ReLU on b before the add (the identity bypass's Quant)
    parameter bit BRELU = 0,
    // bits per output channel (>= 1)
    parameter int OB = 8,
    // output is signed
    parameter bit OSIGNED = 0,
    // shift from the sum's binary point (a's) to the output's: a's fraction bits minus the output's
    parameter int OD = 0,
    // ReLU on the sum
    parameter bit ORELU = 0
) (
    input  logic            a_valid, output logic a_ready, input logic [C*AB-1:0] a_data,
    input  logic            b_valid, output logic b_ready, input logic [C*BB-1:0] b_data,
    output logic            m_valid, input logic m_ready, output logic [C*OB-1:0] m_data
);
  // parameter checks at elaboration: Verilator (lint, simulation) and Yosys stop on a failed one
  if (C < 1 || AB < 1 || BB < 1 || OB < 1) begin : g_check2
    $error("Error: C (%0d), AB (%0d), BB (%0d) and OB (%0d) must be at least 1", C, AB, BB, OB);
  end

  localparam int SUM_W = ((AB > BB) ? AB : BB) + 3;  // a + b, both sign-extended, without overflow
  assign m_valid = a_valid && b_valid;
  assign a_ready = b_valid && m_ready;
  assign b_ready = a_valid && m_ready;
  genvar c;
  generate
    for (c = 0; c < C; c++) begin : g_ch
      logic signed [BB:0] b_ext;     // b channel c, sign- or zero-extended
      logic [AB-1:0] b_as_a;         // ... in a's type
      logic signed [SUM_W-1:0] sum;
      assign b_ext = BSIGNED ? {b_data[c * BB + BB - 1], b_data[c * BB +: BB]} : {1'b0, b_data[c * BB +: BB]};
      sqz_requant #(.AW(BB + 1), .D(BD), .OB(AB), .OSIGNED(ASIGNED), .RELU(BRELU)) rb (.a(b_ext), .q(b_as_a));
      assign sum = (ASIGNED ? SUM_W'($signed(a_data[c * AB +: AB])) : SUM_W'($signed({1'b0, a_data[c * AB +: AB]})))
                 + (ASIGNED ? SUM_W'($signed(b_as_a)) : SUM_W'($signed({1'b0, b_as_a})));
      sqz_requant #(.AW(SUM_W), .D(OD), .OB(OB), .OSIGNED(OSIGNED), .RELU(ORELU)) ro (.a(sum), .q(m_data[c * OB +: OB]));
    end
  endgenerate
endmodule

// AXI-Stream bytes -> pixels of C channels (the low IB bits of each byte), and the batch framing of
// driver/layout.py: bytes are counted in frames of FRAME; the TLAST that comes with a frame's last
// byte marks it the batch's last (TLAST on any other byte is ignored). That flag, one per frame, goes
// through a FIFO of FLAGS entries (plus its output register) to the output adapter (f_*). When the FIFO
// is full, a frame's last byte waits, so the depth only affects throughput, never correctness.
module sqz_bytes_to_pixels #(
    // channels per pixel, one byte each (1..65536)
    parameter int C = 1,
    // bits per channel, the low bits of its byte (1..8)
    parameter int IB = 8,
    // bytes per frame: pixels per frame times C
    parameter int FRAME = 1,
    // batch-end flags that may wait for the output adapter (>= 1)
    parameter int FLAGS = 2
) (
    input  logic            clk, rst,
    input  logic            s_valid, output logic s_ready, input logic [7:0] s_data, input logic s_last,
    output logic            m_valid, input logic m_ready, output logic [C*IB-1:0] m_data,
    output logic            f_valid, input logic f_ready, output logic f_last
);
  // parameter checks at elaboration: Verilator (lint, simulation) and Yosys stop on a failed one
  if (C < 1 || C > 65536 || IB < 1 || IB > 8) begin : g_check3
    $error("Error: C (%0d) must be in 1..65536 and IB (%0d) in 1..8", C, IB);
  end
  if (FRAME < 1 || FRAME % C != 0) begin : g_check4
    $error("Error: FRAME (%0d) must be a positive multiple of C (%0d): a frame is whole pixels",
           FRAME, C);
  end
  if (FLAGS < 1) begin : g_check5
    $error("Error: FLAGS (%0d) must be at least 1", FLAGS);
  end

  localparam int BYTE_BITS = (FRAME > 1) ? $clog2(FRAME) : 1;
  logic [BYTE_BITS-1:0] frame_byte;   // position of the next byte in its frame
  logic frame_end, flag_ready;        // the next byte is its frame's last (a register); the flag FIFO takes one
  logic byte_valid, byte_ready;       // a byte offered to / taken by the pixel assembly
  assign byte_valid = s_valid && (!frame_end || flag_ready);
  assign s_ready = byte_ready && (!frame_end || flag_ready);
  sqz_fifo #(.WIDTH(1), .DEPTH(FLAGS)) flags (
      .clk, .rst, .s_valid(s_valid && frame_end && byte_ready), .s_ready(flag_ready), .s_data(s_last),
      .m_valid(f_valid), .m_ready(f_ready), .m_data(f_last));
  always_ff @(posedge clk) begin
    if (rst) begin
      frame_byte <= '0;
      frame_end <= FRAME == 1;
    end else if (s_valid && s_ready) begin
      frame_byte <= frame_end ? '0 : frame_byte + 1'b1;
      frame_end <= frame_end ? FRAME == 1 : frame_byte == BYTE_BITS'(FRAME - 2);
    end
  end
  generate
    if (C == 1) begin : g_one
      assign m_valid = byte_valid;
      assign byte_ready = m_ready;
      assign m_data = s_data[IB-1:0];
    end else begin : g_many
      logic [15:0] chan;               // channel of the next byte
      logic [(C-1)*IB-1:0] held;       // channels 0 .. C-2 of the pixel being assembled
      assign m_valid = byte_valid && chan == 16'(C - 1);
      assign byte_ready = (chan != 16'(C - 1)) || m_ready;
      assign m_data = {s_data[IB-1:0], held};
      always_ff @(posedge clk) begin
        if (rst) chan <= '0;
        else if (byte_valid && byte_ready) begin
          if (chan == 16'(C - 1)) chan <= '0;
          else begin
            for (int k = 0; k < C - 1; k++)
              if (chan == 16'(k)) held[k * IB +: IB] <= s_data[IB-1:0];
            chan <= chan + 1'b1;
          end
        end
      end
    end
  endgenerate
endmodule

// One vector of C scores per pixel -> C beats of 32-bit words (sign- or zero-extended). A frame's
// final word (of NPIX pixels) waits for that frame's flag from the input adapter (f_*), takes it, and
// carries it as m_last: TLAST only at the end of the batch (driver/layout.py).
module sqz_scores_to_words #(
    // scores (channels) per pixel (1..65536)
    parameter int C = 10,
    // bits per score (1..32)
    parameter int OB = 16,
    // scores are signed (sign-extended to 32 bits, else zero-extended)
    parameter bit OSIGNED = 0,
    // pixels per frame (1..65536)
    parameter int NPIX = 1
) (
    input  logic            clk, rst,
    input  logic            s_valid, output logic s_ready, input logic [C*OB-1:0] s_data,
    output logic            m_valid, input logic m_ready, output logic [31:0] m_data, output logic m_last,
    input  logic            f_valid, output logic f_ready, input logic f_last
);
  // parameter checks at elaboration: Verilator (lint, simulation) and Yosys stop on a failed one
  if (C < 1 || C > 65536 || NPIX < 1 || NPIX > 65536) begin : g_check6
    $error("Error: C (%0d) and NPIX (%0d) must be in 1..65536 (16-bit counters)", C, NPIX);
  end
  if (OB < 1 || OB > 32) begin : g_check7
    $error("Error: OB (%0d) must be in 1..32: a score goes out as one 32-bit word", OB);
  end

  logic [15:0] score_idx, pix_idx;     // the score being sent, and its pixel in the frame
  logic [OB-1:0] score_out;
  logic pix_last, frame_last, flag_ok; // last score of a pixel / of a frame; the frame's flag is there when needed
  localparam int SCORE_BITS = (C > 1) ? $clog2(C) : 1;
  logic [OB-1:0] score [C];
  genvar gc;
  generate
    for (gc = 0; gc < C; gc++) begin : g_score
      assign score[gc] = s_data[gc * OB +: OB];
    end
  endgenerate
  assign score_out = score[SCORE_BITS'(score_idx)];
  assign pix_last = score_idx == 16'(C - 1);
  assign frame_last = pix_last && pix_idx == 16'(NPIX - 1);
  assign flag_ok = !frame_last || f_valid;
  assign m_valid = s_valid && flag_ok;
  assign m_last = frame_last && f_last;
  assign s_ready = m_ready && pix_last && flag_ok;
  assign f_ready = frame_last && s_valid && m_ready;
  assign m_data = OSIGNED ? 32'($signed(score_out)) : 32'(score_out);
  always_ff @(posedge clk) begin
    if (rst) begin
      score_idx <= '0;
      pix_idx <= '0;
    end else if (m_valid && m_ready) begin
      score_idx <= pix_last ? '0 : score_idx + 1'b1;
      if (pix_last) pix_idx <= frame_last ? '0 : pix_idx + 1'b1;
    end
  end
endmodule
