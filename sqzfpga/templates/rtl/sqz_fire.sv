// Fused Fire module: squeeze 1x1 -> one scheduler running expand1x1 (centre tap) and expand3x3
// (padding 1) as two segments over the squeeze output's line buffer, writing one concatenated
// pixel (expand1x1 channels first) -> optional bypass add (BYPASS 1: identity, 2: 1x1 conv of the
// module input), whose input copy waits in a FIFO of BYD pixels (deep enough for the expand's
// one-row-plus-one-pixel lag). No clone, concat or padding layer; no whole-frame buffer.
module sqz_fire #(
    parameter int H = 8, W = 8, CI = 8, IB = 8,
    parameter bit ISIGNED = 0,
    parameter int SQ = 4, SB = 8,           // squeeze channels and bits (unsigned after ReLU)
    parameter int E1 = 4, E3 = 4, EB = 8,   // expand channels and bits
    parameter bit ESIGNED = 0,
    parameter int OB = 8,
    parameter bit OSIGNED = 0,
    // squeeze conv
    parameter int S_PI = 1, S_PO = 1, S_WB = 4, S_PACK = 1, S_PS = 16, S_LUTMUL = 0, S_NSTEP = 1, S_ACCW = 16, S_PSH = 0, S_D = 0,
    parameter bit S_RELU = 1,
    parameter S_WFILE = "", S_BFILE = "", S_WSTYLE = "block", S_LBSTYLE = "distributed",
    // expand (both segments)
    parameter int E_PI = 1, E_PO = 1, E_WB = 4, E_PACK = 1, E_PS = 16, E_LUTMUL = 0, E_NSTEP = 1, E_ACCW = 16, E_PSH0 = 0, E_PSH1 = 0, E_D = 0,
    parameter bit E_RELU0 = 1, E_RELU1 = 1,
    parameter E_WFILE = "", E_BFILE = "", E_WSTYLE = "block", E_LBSTYLE = "block",
    // bypass
    parameter int BYPASS = 0, BYD = 16,
    parameter int B_PI = 1, B_PO = 1, B_WB = 4, B_PACK = 1, B_PS = 16, B_LUTMUL = 0, B_NSTEP = 1, B_ACCW = 16, B_PSH = 0, B_D = 0,
    parameter bit B_RELU = 0,
    parameter B_WFILE = "", B_BFILE = "", B_WSTYLE = "block", B_LBSTYLE = "distributed",
    parameter int ID_D = 0,                 // identity bypass: input -> expand type shift
    parameter int A_D = 0,                  // add -> output type shift
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
  localparam int CO = E1 + E3;
  logic x_valid, x_ready, q_valid, q_ready, e_valid, e_ready;
  logic [CI*IB-1:0] x_data;
  logic [SQ*SB-1:0] q_data;
  logic [CO*EB-1:0] e_data;

  // 1x1 convs see the frame as one column of H*W pixels: two one-pixel buffer slots, not two rows
  sqz_conv #(.H(H * W), .W(1), .C(CI), .IB(IB), .ISIGNED(ISIGNED), .K(1), .S(1), .PT(0), .PL(0), .OH(H * W),
             .OW(1), .R(2), .PI(S_PI), .PO(S_PO), .WB(S_WB), .PACK(S_PACK), .PS(S_PS), .LUTMUL(S_LUTMUL), .NCI(CI / S_PI), .NSEG(1), .NCO0(SQ / S_PO), .KS0(1),
             .NSTEP(S_NSTEP), .ACCW(S_ACCW), .PSH0(S_PSH), .D(S_D), .OB(SB), .OSIGNED(0), .RELU0(S_RELU),
             .WFILE(S_WFILE), .BFILE(S_BFILE), .WSTYLE(S_WSTYLE), .LBSTYLE(S_LBSTYLE)) squeeze (
      .clk, .rst, .s_valid(x_valid), .s_ready(x_ready), .s_data(x_data), .m_valid(q_valid), .m_ready(q_ready),
      .m_data(q_data));

  sqz_conv #(.H(H), .W(W), .C(SQ), .IB(SB), .ISIGNED(0), .K(3), .S(1), .PT(1), .PL(1), .OH(H), .OW(W), .R(4),
             .PI(E_PI), .PO(E_PO), .WB(E_WB), .PACK(E_PACK), .PS(E_PS), .LUTMUL(E_LUTMUL), .NCI(SQ / E_PI), .NSEG(2), .NCO0(E1 / E_PO), .KS0(1),
             .NCO1(E3 / E_PO), .KS1(3), .NSTEP(E_NSTEP), .ACCW(E_ACCW), .PSH0(E_PSH0), .PSH1(E_PSH1), .D(E_D),
             .OB(EB), .OSIGNED(ESIGNED), .RELU0(E_RELU0), .RELU1(E_RELU1), .WFILE(E_WFILE), .BFILE(E_BFILE),
             .WSTYLE(E_WSTYLE), .LBSTYLE(E_LBSTYLE)) expand (
      .clk, .rst, .s_valid(q_valid), .s_ready(q_ready), .s_data(q_data), .m_valid(e_valid), .m_ready(e_ready),
      .m_data(e_data));

  generate
    if (BYPASS == 0) begin : g_plain
      assign x_valid = s_valid;
      assign s_ready = x_ready;
      assign x_data = s_data;
      assign m_valid = e_valid;
      assign e_ready = m_ready;
      assign m_data = e_data;
    end else begin : g_bypass
      localparam int BW = (BYPASS == 1) ? IB : EB;
      logic f_valid, f_ready, y_valid, y_ready, b_valid, b_ready;
      logic [CI*IB-1:0] f_data;
      logic [CO*BW-1:0] y_data, b_data;
      sqz_fork #(.WIDTH(CI * IB)) fork_in (
          .s_valid, .s_ready, .s_data, .a_valid(x_valid), .a_ready(x_ready), .a_data(x_data),
          .b_valid(f_valid), .b_ready(f_ready), .b_data(f_data));
      if (BYPASS == 1) begin : g_id
        assign y_valid = f_valid;
        assign f_ready = y_ready;
        assign y_data = f_data;
      end else begin : g_conv
        sqz_conv #(.H(H * W), .W(1), .C(CI), .IB(IB), .ISIGNED(ISIGNED), .K(1), .S(1), .PT(0), .PL(0),
                   .OH(H * W), .OW(1), .R(2), .PI(B_PI), .PO(B_PO), .WB(B_WB), .PACK(B_PACK), .PS(B_PS), .LUTMUL(B_LUTMUL), .NCI(CI / B_PI), .NSEG(1), .NCO0(CO / B_PO),
                   .KS0(1), .NSTEP(B_NSTEP), .ACCW(B_ACCW), .PSH0(B_PSH), .D(B_D), .OB(EB), .OSIGNED(ESIGNED),
                   .RELU0(B_RELU), .WFILE(B_WFILE), .BFILE(B_BFILE), .WSTYLE(B_WSTYLE),
                   .LBSTYLE(B_LBSTYLE)) bypass_conv (
            .clk, .rst, .s_valid(f_valid), .s_ready(f_ready), .s_data(f_data), .m_valid(y_valid),
            .m_ready(y_ready), .m_data(y_data));
      end
      sqz_fifo #(.WIDTH(CO * BW), .DEPTH(BYD), .STYLE((BYD * CO * BW > 4096) ? "block" : "distributed")) delay (
          .clk, .rst, .s_valid(y_valid), .s_ready(y_ready), .s_data(y_data), .m_valid(b_valid), .m_ready(b_ready),
          .m_data(b_data));
      sqz_add #(.C(CO), .AB(EB), .BB(BW), .ASIGNED(ESIGNED), .BSIGNED((BYPASS == 1) ? ISIGNED : ESIGNED),
                .BD((BYPASS == 1) ? ID_D : 0), .BRELU(BYPASS == 1), .OB(OB), .OSIGNED(OSIGNED), .OD(A_D),
                .ORELU(A_RELU)) add (
          .a_valid(e_valid), .a_ready(e_ready), .a_data(e_data), .b_valid, .b_ready, .b_data,
          .m_valid, .m_ready, .m_data);
    end
  endgenerate
endmodule
