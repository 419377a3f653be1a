// Convolution layer (also a Fire's squeeze and expand stages): sliding window + MAC array.
// Cycles per output pixel = NSTEP = sum over segments of NCO_s * KS_s^2 * IN_CHUNKS; the line buffer
// holds pixels as IN_CHUNKS chunks of PI channels, one chunk per step.
module sqz_conv #(
    // input image height in pixels (H + R + K < 32768)
    parameter int H = 8,
    // input image width in pixels (W + K < 32768)
    parameter int W = 8,
    // input channels (C = PI * IN_CHUNKS)
    parameter int C = 4,
    // bits per input channel (>= 1)
    parameter int IB = 8,
    // input is signed
    parameter bit ISIGNED = 0,
    // kernel height and width in pixels (>= 1)
    parameter int K = 3,
    // stride in pixels (>= 1)
    parameter int S = 1,
    // zero-padding rows above the image (>= 0)
    parameter int PT = 1,
    // zero-padding columns left of the image (>= 0)
    parameter int PL = 1,
    // output rows (>= 1)
    parameter int OH = 8,
    // output columns (>= 1)
    parameter int OW = 8,
    // line-buffer rows: a power of two, at least 2 and at least K
    parameter int R = 4,
    // input channels per step (C = PI * IN_CHUNKS)
    parameter int PI = 1,
    // output channels per step (a multiple of PACK); each segment has NCO_s * PO output channels
    parameter int PO = 1,
    // bits per weight, signed (>= 1)
    parameter int WB = 8,
    // output channels per multiplier: 1, or 2 (DSP packing, see sqz_mac)
    parameter int PACK = 1,
    // PACK 2: bit offset of the high channel in a packed coefficient (>= WB + IB + $clog2(PI))
    parameter int PACK_SHIFT = 16,
    // multipliers built from LUTs instead of DSP slices (needs PACK 1)
    parameter bit LUTMUL = 0,
    // input-channel chunks per tap: C / PI
    parameter int IN_CHUNKS = 4,
    // segments: 1 (a conv), or 2 (a Fire's expand1x1 and expand3x3, outputs concatenated)
    parameter int NSEG = 1,
    // segment 0: output-channel chunks of PO channels (>= 1)
    parameter int NCO0 = 4,
    // segment 0: kernel taps per side, centred in the K x K window (KS0 = K for a conv)
    parameter int KS0 = 3,
    // segment 1 (NSEG = 2): output-channel chunks of PO channels (>= 1)
    parameter int NCO1 = 1,
    // segment 1 (NSEG = 2): kernel taps per side (1..K, K - KS1 even)
    parameter int KS1 = 1,
    // steps (cycles) per output pixel: IN_CHUNKS * (NCO0 * KS0^2 + NCO1 * KS1^2 if NSEG = 2)
    parameter int NSTEP = 144,
    // accumulator bits, signed (exact for the weights; >= WB + IB + 1)
    parameter int ACCW = 24,
    // segment 0: left shift of the products to the accumulator's binary point (>= 0)
    parameter int PROD_SHIFT0 = 0,
    // segment 1: left shift of the products to the accumulator's binary point (>= 0)
    parameter int PROD_SHIFT1 = 0,
    // requantisation shift: accumulator fraction bits minus output fraction bits (D <= ACCW)
    parameter int D = 8,
    // bits per output channel (>= 1)
    parameter int OB = 8,
    // output is signed
    parameter bit OSIGNED = 0,
    // segment 0: ReLU
    parameter bit RELU0 = 1,
    // segment 1: ReLU
    parameter bit RELU1 = 1,
    // $readmemh file of the weights, one word per step (see sqz_mac for the layout)
    parameter WFILE = "",
    // $readmemh file of the biases, one word per output-channel chunk
    parameter BFILE = "",
    // weight ROM resource: "block" (block RAM), else LUT logic
    parameter WSTYLE = "block",
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
    output logic [(NCO0 + (NSEG > 1 ? NCO1 : 0))*PO*OB-1:0] m_data
);
  // parameter checks at elaboration: Verilator (lint, simulation) and Yosys stop on a failed one
  if (PI < 1 || IN_CHUNKS < 1 || C != PI * IN_CHUNKS) begin : g_check1
    $error("Error: C (%0d) must be PI (%0d) * IN_CHUNKS (%0d): the window delivers one chunk of PI input channels per step",
           C, PI, IN_CHUNKS);
  end

  localparam int NCO = NCO0 + (NSEG > 1 ? NCO1 : 0);  // output-channel chunks of both segments
  localparam int STEP_WB = PO / PACK * PI * (PACK * WB + PACK - 1);  // weight bits per step (packed pairs)
  logic win_valid, win_ready, win_pad, win_seg, win_first, win_last;
  logic [PI*IB-1:0] win_data;
  logic [STEP_WB-1:0] win_weights;
  logic [15:0] win_co;
  sqz_window #(.H(H), .W(W), .C(C), .IB(IB), .K(K), .S(S), .PT(PT), .PL(PL), .OH(OH), .OW(OW), .R(R),
               .CHUNKS(IN_CHUNKS), .CHUNK_BY_CO(0), .IN_CHUNKS(IN_CHUNKS), .NSEG(NSEG), .NCO0(NCO0), .KS0(KS0), .NCO1(NCO1), .KS1(KS1), .NSTEP(NSTEP),
               .PW(STEP_WB), .PFILE(WFILE), .PSTYLE(WSTYLE), .LBSTYLE(LBSTYLE)) win (
      .clk, .rst, .s_valid, .s_ready, .s_data, .m_valid(win_valid), .m_ready(win_ready), .m_data(win_data),
      .m_payload(win_weights), .m_pad(win_pad), .m_co(win_co), .m_seg(win_seg), .m_first(win_first),
      .m_last(win_last));
  sqz_mac #(.IB(IB), .ISIGNED(ISIGNED), .PI(PI), .PO(PO), .WB(WB), .PACK(PACK), .PACK_SHIFT(PACK_SHIFT), .LUTMUL(LUTMUL), .NCO(NCO), .ACCW(ACCW),
            .PROD_SHIFT0(PROD_SHIFT0), .PROD_SHIFT1(PROD_SHIFT1), .D(D), .OB(OB), .OSIGNED(OSIGNED), .RELU0(RELU0), .RELU1(RELU1),
            .BFILE(BFILE)) mac (
      .clk, .rst, .s_valid(win_valid), .s_ready(win_ready), .s_data(win_data), .s_w(win_weights), .s_pad(win_pad),
      .s_co(win_co), .s_seg(win_seg), .s_first(win_first), .s_last(win_last), .m_valid, .m_ready,
      .m_data);
endmodule
