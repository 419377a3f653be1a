// K x K / S max pooling, floor or ceil mode (taps outside the image are skipped, as ONNX pads
// -inf): for each chunk of C/CHUNKS channels the sliding window issues the K*K taps of the output
// pixel; the chunk's maxima go into the output pixel. K*K*CHUNKS cycles per output pixel.
module sqz_maxpool #(
    // input image height in pixels (H + R + K < 32768)
    parameter int H = 8,
    // input image width in pixels (W + K < 32768)
    parameter int W = 8,
    // channels (a multiple of CHUNKS)
    parameter int C = 4,
    // bits per channel (>= 1)
    parameter int IB = 8,
    // channels are signed
    parameter bit ISIGNED = 0,
    // pooling window height and width in pixels (>= 1)
    parameter int K = 3,
    // stride in pixels (>= 1)
    parameter int S = 2,
    // padding rows above the image (>= 0; padded taps are skipped)
    parameter int PT = 0,
    // padding columns left of the image (>= 0)
    parameter int PL = 0,
    // output rows (>= 1; ceil mode may add a last window that overhangs the image)
    parameter int OH = 4,
    // output columns (>= 1)
    parameter int OW = 4,
    // line-buffer rows: a power of two, at least 2 and at least K
    parameter int R = 4,
    // chunks per pixel (divides C): C / CHUNKS channels are compared per cycle
    parameter int CHUNKS = 1,
    // line-buffer resource: "block" (block RAM), else LUT RAM
    parameter LBSTYLE = "block"
) (
    input  logic            clk,
    input  logic            rst,
    input  logic            s_valid,
    output logic            s_ready,
    input  logic [C*IB-1:0] s_data,
    output logic            m_valid,
    input  logic            m_ready,
    output logic [C*IB-1:0] m_data
);
  // parameter checks at elaboration: Verilator (lint, simulation) and Yosys stop on a failed one
  if (PT >= K || PL >= K || (OH - 1) * S - PT > H - 1 || (OW - 1) * S - PL > W - 1) begin : g_check1
    $error("Error: every window must hold an image pixel: PT (%0d) and PL (%0d) below K (%0d), the last window starting inside the %0d x %0d image",
           PT, PL, K, H, W);
  end

  localparam int CH_PER_CHUNK = C / CHUNKS;  // channels per chunk
  logic win_valid, win_ready, win_pad, win_seg, win_first, win_last, win_payload;
  logic [CH_PER_CHUNK*IB-1:0] win_data, chunk_max;
  localparam int CHUNK_BITS = (CHUNKS > 1) ? $clog2(CHUNKS) : 1;
  logic [15:0] win_co;
  logic [CHUNK_BITS-1:0] done_chunk;
  logic have_tap, chunk_done, done_last;  // done_last: done_chunk is the last chunk (registered: m_valid is one gate)
  logic [C*IB-1:0] held_out;
  sqz_window #(.H(H), .W(W), .C(C), .IB(IB), .K(K), .S(S), .PT(PT), .PL(PL), .OH(OH), .OW(OW), .R(R),
               .CHUNKS(CHUNKS), .CHUNK_BY_CO(1), .IN_CHUNKS(1), .NSEG(1), .NCO0(CHUNKS), .KS0(K), .NSTEP(K * K * CHUNKS), .PW(1),
               .PFILE(""), .LBSTYLE(LBSTYLE)) win (
      .clk, .rst, .s_valid, .s_ready, .s_data, .m_valid(win_valid), .m_ready(win_ready), .m_data(win_data),
      .m_payload(win_payload), .m_pad(win_pad), .m_co(win_co), .m_seg(win_seg), .m_first(win_first),
      .m_last(win_last));
  // the window's step, registered before the compare: the line buffer's read (block RAM clock-to-out
  // and its depth multiplexer) then ends in a register, not in the maxima's enables (6.76 ns at
  // xc7z020 -1 before); one cycle more latency, the same rate
  logic p_valid, p_pad, p_first, p_last;
  logic [15:0] p_co;
  logic [CH_PER_CHUNK*IB-1:0] p_data;
  assign m_valid = chunk_done && done_last;
  assign win_ready = !(m_valid && !m_ready);
  always_comb begin
    m_data = held_out;
    m_data[(CHUNKS - 1) * CH_PER_CHUNK * IB +: CH_PER_CHUNK * IB] = chunk_max;
  end
  always_ff @(posedge clk) begin
    if (rst) begin
      p_valid <= 1'b0;
      chunk_done <= 1'b0;
      have_tap <= 1'b0;
    end else if (win_ready) begin
      p_valid <= win_valid;
      p_data <= win_data;
      p_pad <= win_pad;
      p_first <= win_first;
      p_last <= win_last;
      p_co <= win_co;
      chunk_done <= p_valid && p_last;
      if (chunk_done)
        for (int k = 0; k < CHUNKS; k++)
          if (done_chunk == CHUNK_BITS'(k)) held_out[k * CH_PER_CHUNK * IB +: CH_PER_CHUNK * IB] <= chunk_max;
      if (p_valid) begin
        done_chunk <= CHUNK_BITS'(p_co);
        done_last <= p_co == 16'(CHUNKS - 1);
        if (!p_pad) begin
          for (int c = 0; c < CH_PER_CHUNK; c++) begin
            logic gt;
            gt = ISIGNED ? ($signed(p_data[c * IB +: IB]) > $signed(chunk_max[c * IB +: IB]))
                         : (p_data[c * IB +: IB] > chunk_max[c * IB +: IB]);
            if (p_first || !have_tap || gt) chunk_max[c * IB +: IB] <= p_data[c * IB +: IB];
          end
        end
        have_tap <= p_last ? 1'b0 : (have_tap || !p_pad);
      end
    end
  end
endmodule
