// Convolution layer (also a Fire's squeeze and expand stages): sliding window + MAC array.
// Cycles per output pixel = NSTEP = sum over segments of NCO_s * KS_s^2 * NCI; the line buffer
// holds pixels as NCI chunks of PI channels, one chunk per step.
module sqz_conv #(
    parameter int H = 8, W = 8, C = 4, IB = 8,
    parameter bit ISIGNED = 0,
    parameter int K = 3, S = 1, PT = 1, PL = 1, OH = 8, OW = 8, R = 4,
    parameter int PI = 1, PO = 1, WB = 8,
    parameter int PACK = 1, PS = 16,
    parameter bit LUTMUL = 0,
    parameter int NCI = 4,
    parameter int NSEG = 1, NCO0 = 4, KS0 = 3, NCO1 = 1, KS1 = 1,
    parameter int NSTEP = 36,
    parameter int ACCW = 24,
    parameter int PSH0 = 0, PSH1 = 0, D = 8,
    parameter int OB = 8,
    parameter bit OSIGNED = 0,
    parameter bit RELU0 = 1, RELU1 = 1,
    parameter WFILE = "",
    parameter BFILE = "",
    parameter WSTYLE = "block",
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
  localparam int NCO = NCO0 + (NSEG > 1 ? NCO1 : 0);
  logic w_valid, w_ready, w_pad, w_seg, w_first, w_last;
  logic [PI*IB-1:0] w_data;
  localparam int WPW = PO / PACK * PI * (PACK * WB + PACK - 1);  // weights per step (packed pairs)
  logic [WPW-1:0] w_w;
  logic [15:0] w_co;
  sqz_window #(.H(H), .W(W), .C(C), .IB(IB), .K(K), .S(S), .PT(PT), .PL(PL), .OH(OH), .OW(OW), .R(R),
               .NCH(NCI), .CHUNK_BY_CO(0), .NCI(NCI), .NSEG(NSEG), .NCO0(NCO0), .KS0(KS0), .NCO1(NCO1), .KS1(KS1), .NSTEP(NSTEP),
               .PW(WPW), .PFILE(WFILE), .PSTYLE(WSTYLE), .LBSTYLE(LBSTYLE)) win (
      .clk, .rst, .s_valid, .s_ready, .s_data, .m_valid(w_valid), .m_ready(w_ready), .m_data(w_data),
      .m_payload(w_w), .m_pad(w_pad), .m_co(w_co), .m_seg(w_seg), .m_first(w_first),
      .m_last(w_last));
  sqz_mac #(.IB(IB), .ISIGNED(ISIGNED), .PI(PI), .PO(PO), .WB(WB), .PACK(PACK), .PS(PS), .LUTMUL(LUTMUL), .NCO(NCO), .ACCW(ACCW),
            .PSH0(PSH0), .PSH1(PSH1), .D(D), .OB(OB), .OSIGNED(OSIGNED), .RELU0(RELU0), .RELU1(RELU1),
            .BFILE(BFILE)) mac (
      .clk, .rst, .s_valid(w_valid), .s_ready(w_ready), .s_data(w_data), .s_w(w_w), .s_pad(w_pad),
      .s_co(w_co), .s_seg(w_seg), .s_first(w_first), .s_last(w_last), .m_valid, .m_ready,
      .m_data);
endmodule
