// Fused Fire module: squeeze 1x1 -> one scheduler running expand1x1 (centre tap) and expand3x3
// (padding 1) as two segments over the squeeze output's line buffer, writing one concatenated
// pixel (expand1x1 channels first) -> optional bypass add (BYPASS 1: identity, 2: 1x1 conv of the
// module input), whose input copy waits in a FIFO of BYPASS_DEPTH pixels (deep enough for the expand's
// one-row-plus-one-pixel lag). No clone, concat or padding layer; no whole-frame buffer.
module sqz_fire #(
    // image height in pixels (H * W + 3 < 32768: the 1x1 convs see the frame as one column)
    parameter int H = 8,
    // image width in pixels
    parameter int W = 8,
    // input channels
    parameter int CI = 8,
    // bits per input channel (>= 1)
    parameter int IB = 8,
    // input is signed
    parameter bit ISIGNED = 0,
    // squeeze output channels
    parameter int SQ = 4,
    // bits per squeeze output channel (>= 1)
    parameter int SB = 8,
    // squeeze output is signed (no ReLU after the squeeze conv)
    parameter bit SSIGNED = 0,
    // expand1x1 output channels (the first E1 output channels)
    parameter int E1 = 4,
    // expand3x3 output channels (the last E3 output channels)
    parameter int E3 = 4,
    // bits per expand output channel (the module's output type when BYPASS is 0)
    parameter int EB = 8,
    // expand output is signed
    parameter bit ESIGNED = 0,
    // bits per output channel
    parameter int OB = 8,
    // output is signed
    parameter bit OSIGNED = 0,
    // squeeze conv (1x1) -------------------------------------------------------------------------
    // squeeze: input channels per step (divides CI)
    parameter int S_PI = 1,
    // squeeze: output channels per step (divides SQ)
    parameter int S_PO = 1,
    // squeeze: bits per weight
    parameter int S_WB = 4,
    // squeeze: output channels per multiplier (1, or 2: DSP packing)
    parameter int S_PACK = 1,
    // squeeze: packed coefficient's high-channel offset (see sqz_mac's PACK_SHIFT)
    parameter int S_PACK_SHIFT = 16,
    // squeeze: LUT multipliers
    parameter int S_LUTMUL = 0,
    // squeeze: steps per pixel, (CI / S_PI) * (SQ / S_PO)
    parameter int S_NSTEP = 32,
    // squeeze: accumulator bits
    parameter int S_ACCW = 16,
    // squeeze: product shift to the accumulator's binary point (sqz_mac's PROD_SHIFT0)
    parameter int S_PROD_SHIFT = 0,
    // squeeze: requantisation shift (sqz_mac's D)
    parameter int S_D = 0,
    // squeeze: ReLU
    parameter bit S_RELU = 1,
    // squeeze: weight ROM file
    parameter S_WFILE = "",
    // squeeze: bias ROM file
    parameter S_BFILE = "",
    // squeeze: weight ROM resource ("block", else LUTs)
    parameter S_WSTYLE = "block",
    // squeeze: line-buffer resource ("block", else LUT RAM)
    parameter S_LBSTYLE = "distributed",
    // expand: expand1x1 (segment 0) and expand3x3 (segment 1) on one scheduler ----------------------
    // expand: input channels per step (divides SQ)
    parameter int E_PI = 1,
    // expand: output channels per step (divides E1 and E3)
    parameter int E_PO = 1,
    // expand: bits per weight (the wider of the two expands)
    parameter int E_WB = 4,
    // expand: output channels per multiplier (1, or 2: DSP packing)
    parameter int E_PACK = 1,
    // expand: packed coefficient's high-channel offset
    parameter int E_PACK_SHIFT = 16,
    // expand: LUT multipliers
    parameter int E_LUTMUL = 0,
    // expand: steps per pixel, (SQ / E_PI) * (E1 + 9 * E3) / E_PO
    parameter int E_NSTEP = 160,
    // expand: accumulator bits (shared by both segments)
    parameter int E_ACCW = 16,
    // expand1x1: product shift to the accumulator's binary point
    parameter int E_PROD_SHIFT0 = 0,
    // expand3x3: product shift to the accumulator's binary point
    parameter int E_PROD_SHIFT1 = 0,
    // expand: requantisation shift
    parameter int E_D = 0,
    // expand1x1: ReLU
    parameter bit E_RELU0 = 1,
    // expand3x3: ReLU
    parameter bit E_RELU1 = 1,
    // expand: weight ROM file (both segments)
    parameter E_WFILE = "",
    // expand: bias ROM file
    parameter E_BFILE = "",
    // expand: weight ROM resource
    parameter E_WSTYLE = "block",
    // expand: line-buffer resource
    parameter E_LBSTYLE = "block",
    // bypass ------------------------------------------------------------------------------------------
    // 0: none; 1: identity (CI = E1 + E3); 2: a 1x1 conv of the input
    parameter int BYPASS = 0,
    // bypass FIFO depth in pixels (>= W + 1: the copy waits while the expand fills one row and one pixel)
    parameter int BYPASS_DEPTH = 16,
    // bypass conv: input channels per step (divides CI)
    parameter int B_PI = 1,
    // bypass conv: output channels per step (divides E1 + E3)
    parameter int B_PO = 1,
    // bypass conv: bits per weight
    parameter int B_WB = 4,
    // bypass conv: output channels per multiplier
    parameter int B_PACK = 1,
    // bypass conv: packed coefficient's high-channel offset
    parameter int B_PACK_SHIFT = 16,
    // bypass conv: LUT multipliers
    parameter int B_LUTMUL = 0,
    // bypass conv: steps per pixel, (CI / B_PI) * (E1 + E3) / B_PO
    parameter int B_NSTEP = 64,
    // bypass conv: accumulator bits
    parameter int B_ACCW = 16,
    // bypass conv: product shift to the accumulator's binary point
    parameter int B_PROD_SHIFT = 0,
    // bypass conv: requantisation shift (to the expand type)
    parameter int B_D = 0,
    // bypass conv: ReLU
    parameter bit B_RELU = 0,
    // bypass conv: weight ROM file
    parameter B_WFILE = "",
    // bypass conv: bias ROM file
    parameter B_BFILE = "",
    // bypass conv: weight ROM resource
    parameter B_WSTYLE = "block",
    // bypass conv: line-buffer resource
    parameter B_LBSTYLE = "distributed",
    // identity bypass: shift from the input type to the expand type (input fraction bits minus expand's)
    parameter int ID_SHIFT = 0,
    // add: shift from the expand type to the output type (expand fraction bits minus output's)
    parameter int ADD_SHIFT = 0,
    // add: ReLU on the sum
    parameter bit A_RELU = 0
) (
    input  logic              clk,
    input  logic              rst,
    input  logic              s_valid,
    output logic              s_ready,
    input  logic [CI*IB-1:0]  s_data,
    output logic              m_valid,
    input  logic              m_ready,
    output logic [(E1+E3)*OB-1:0] m_data
);
  // parameter checks at elaboration: Verilator (lint, simulation) and Yosys stop on a failed one
  if (S_PI < 1 || S_PO < 1 || E_PI < 1 || E_PO < 1 || CI % S_PI != 0 || SQ % S_PO != 0 || SQ % E_PI != 0 ||
      E1 % E_PO != 0 || E3 % E_PO != 0) begin : g_check1
    $error("Error: S_PI (%0d) must divide CI (%0d); S_PO (%0d) and E_PI (%0d) must divide SQ (%0d); E_PO (%0d) must divide E1 (%0d) and E3 (%0d)",
           S_PI, CI, S_PO, E_PI, SQ, E_PO, E1, E3);
  end
  if (BYPASS < 0 || BYPASS > 2 || (BYPASS == 1 && CI != E1 + E3)) begin : g_check2
    $error("Error: BYPASS (%0d) must be 0, 1 (identity: CI (%0d) = E1 + E3 (%0d)) or 2", BYPASS, CI, E1 + E3);
  end
  if (BYPASS == 2 && (B_PI < 1 || B_PO < 1 || CI % B_PI != 0 || (E1 + E3) % B_PO != 0)) begin : g_check3
    $error("Error: B_PI (%0d) must divide CI (%0d) and B_PO (%0d) must divide E1 + E3 (%0d)", B_PI, CI, B_PO, E1 + E3);
  end
  if (BYPASS != 0 && BYPASS_DEPTH < W + 1) begin : g_check4
    $error("Error: BYPASS_DEPTH (%0d) must be at least W + 1 (%0d): the bypass copy waits while the expand fills a row and a pixel, a shallower FIFO deadlocks",
           BYPASS_DEPTH, W + 1);
  end

  localparam int CO = E1 + E3;
  logic sq_in_valid, sq_in_ready, sq_out_valid, sq_out_ready, ex_valid, ex_ready;
  logic [CI*IB-1:0] sq_in_data;
  logic [SQ*SB-1:0] sq_out_data;
  logic [CO*EB-1:0] ex_data;

  // 1x1 convs see the frame as one column of H*W pixels: two one-pixel buffer slots, not two rows
  sqz_conv #(.H(H * W), .W(1), .C(CI), .IB(IB), .ISIGNED(ISIGNED), .K(1), .S(1), .PT(0), .PL(0), .OH(H * W),
             .OW(1), .R(2), .PI(S_PI), .PO(S_PO), .WB(S_WB), .PACK(S_PACK), .PACK_SHIFT(S_PACK_SHIFT), .LUTMUL(S_LUTMUL), .IN_CHUNKS(CI / S_PI), .NSEG(1), .NCO0(SQ / S_PO), .KS0(1),
             .NSTEP(S_NSTEP), .ACCW(S_ACCW), .PROD_SHIFT0(S_PROD_SHIFT), .D(S_D), .OB(SB), .OSIGNED(SSIGNED), .RELU0(S_RELU),
             .WFILE(S_WFILE), .BFILE(S_BFILE), .WSTYLE(S_WSTYLE), .LBSTYLE(S_LBSTYLE)) squeeze (
      .clk, .rst, .s_valid(sq_in_valid), .s_ready(sq_in_ready), .s_data(sq_in_data), .m_valid(sq_out_valid), .m_ready(sq_out_ready),
      .m_data(sq_out_data));

  sqz_conv #(.H(H), .W(W), .C(SQ), .IB(SB), .ISIGNED(SSIGNED), .K(3), .S(1), .PT(1), .PL(1), .OH(H), .OW(W), .R(4),
             .PI(E_PI), .PO(E_PO), .WB(E_WB), .PACK(E_PACK), .PACK_SHIFT(E_PACK_SHIFT), .LUTMUL(E_LUTMUL), .IN_CHUNKS(SQ / E_PI), .NSEG(2), .NCO0(E1 / E_PO), .KS0(1),
             .NCO1(E3 / E_PO), .KS1(3), .NSTEP(E_NSTEP), .ACCW(E_ACCW), .PROD_SHIFT0(E_PROD_SHIFT0), .PROD_SHIFT1(E_PROD_SHIFT1), .D(E_D),
             .OB(EB), .OSIGNED(ESIGNED), .RELU0(E_RELU0), .RELU1(E_RELU1), .WFILE(E_WFILE), .BFILE(E_BFILE),
             .WSTYLE(E_WSTYLE), .LBSTYLE(E_LBSTYLE)) expand (
      .clk, .rst, .s_valid(sq_out_valid), .s_ready(sq_out_ready), .s_data(sq_out_data), .m_valid(ex_valid), .m_ready(ex_ready),
      .m_data(ex_data));

  generate
    if (BYPASS == 0) begin : g_plain
      assign sq_in_valid = s_valid;
      assign s_ready = sq_in_ready;
      assign sq_in_data = s_data;
      assign m_valid = ex_valid;
      assign ex_ready = m_ready;
      assign m_data = ex_data;
    end else begin : g_bypass
      localparam int BY_BITS = (BYPASS == 1) ? IB : EB;
      logic copy_valid, copy_ready, by_valid, by_ready, late_valid, late_ready;
      logic [CI*IB-1:0] copy_data;
      logic [CO*BY_BITS-1:0] by_data, late_data;
      sqz_fork #(.WIDTH(CI * IB)) fork_in (
          .s_valid, .s_ready, .s_data, .a_valid(sq_in_valid), .a_ready(sq_in_ready), .a_data(sq_in_data),
          .b_valid(copy_valid), .b_ready(copy_ready), .b_data(copy_data));
      if (BYPASS == 1) begin : g_id
        assign by_valid = copy_valid;
        assign copy_ready = by_ready;
        assign by_data = copy_data;
      end else begin : g_conv
        sqz_conv #(.H(H * W), .W(1), .C(CI), .IB(IB), .ISIGNED(ISIGNED), .K(1), .S(1), .PT(0), .PL(0),
                   .OH(H * W), .OW(1), .R(2), .PI(B_PI), .PO(B_PO), .WB(B_WB), .PACK(B_PACK), .PACK_SHIFT(B_PACK_SHIFT), .LUTMUL(B_LUTMUL), .IN_CHUNKS(CI / B_PI), .NSEG(1), .NCO0(CO / B_PO),
                   .KS0(1), .NSTEP(B_NSTEP), .ACCW(B_ACCW), .PROD_SHIFT0(B_PROD_SHIFT), .D(B_D), .OB(EB), .OSIGNED(ESIGNED),
                   .RELU0(B_RELU), .WFILE(B_WFILE), .BFILE(B_BFILE), .WSTYLE(B_WSTYLE),
                   .LBSTYLE(B_LBSTYLE)) bypass_conv (
            .clk, .rst, .s_valid(copy_valid), .s_ready(copy_ready), .s_data(copy_data), .m_valid(by_valid),
            .m_ready(by_ready), .m_data(by_data));
      end
      sqz_fifo #(.WIDTH(CO * BY_BITS), .DEPTH(BYPASS_DEPTH), .STYLE((BYPASS_DEPTH * CO * BY_BITS > 4096) ? "block" : "distributed")) delay (
          .clk, .rst, .s_valid(by_valid), .s_ready(by_ready), .s_data(by_data), .m_valid(late_valid), .m_ready(late_ready),
          .m_data(late_data));
      sqz_add #(.C(CO), .AB(EB), .BB(BY_BITS), .ASIGNED(ESIGNED), .BSIGNED((BYPASS == 1) ? ISIGNED : ESIGNED),
                .BD((BYPASS == 1) ? ID_SHIFT : 0), .BRELU(BYPASS == 1), .OB(OB), .OSIGNED(OSIGNED), .OD(ADD_SHIFT),
                .ORELU(A_RELU)) add (
          .a_valid(ex_valid), .a_ready(ex_ready), .a_data(ex_data), .b_valid(late_valid), .b_ready(late_ready),
          .b_data(late_data), .m_valid, .m_ready, .m_data);
    end
  endgenerate
endmodule
