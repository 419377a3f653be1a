// K x K / S max pooling, floor or ceil mode (taps outside the image are skipped, as ONNX pads
// -inf): the sliding window issues the K*K taps of each output pixel, all channels compared at once.
module sqz_maxpool #(
    parameter int H = 8, W = 8, C = 4, IB = 8,
    parameter bit ISIGNED = 0,
    parameter int K = 3, S = 2, PT = 0, PL = 0, OH = 4, OW = 4, R = 4,
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
  logic w_valid, w_ready, w_pad, w_seg, w_first, w_last, w_p;
  logic [C*IB-1:0] w_data;
  logic [15:0] w_ci, w_co;
  logic have, done;
  sqz_window #(.H(H), .W(W), .C(C), .IB(IB), .K(K), .S(S), .PT(PT), .PL(PL), .OH(OH), .OW(OW), .R(R),
               .NCI(1), .NSEG(1), .NCO0(1), .KS0(K), .NSTEP(K * K), .PW(1), .PFILE(""),
               .LBSTYLE(LBSTYLE)) win (
      .clk, .rst, .s_valid, .s_ready, .s_data, .m_valid(w_valid), .m_ready(w_ready), .m_data(w_data),
      .m_payload(w_p), .m_pad(w_pad), .m_ci(w_ci), .m_co(w_co), .m_seg(w_seg), .m_first(w_first),
      .m_last(w_last));
  assign m_valid = done;
  assign w_ready = !(done && !m_ready);
  always_ff @(posedge clk) begin
    if (rst) begin
      done <= 1'b0;
      have <= 1'b0;
    end else if (w_ready) begin
      done <= w_valid && w_last;
      if (w_valid) begin
        if (!w_pad) begin
          for (int c = 0; c < C; c++) begin
            logic gt;
            gt = ISIGNED ? ($signed(w_data[c * IB +: IB]) > $signed(m_data[c * IB +: IB]))
                         : (w_data[c * IB +: IB] > m_data[c * IB +: IB]);
            if (w_first || !have || gt) m_data[c * IB +: IB] <= w_data[c * IB +: IB];
          end
        end
        have <= w_last ? 1'b0 : (have || !w_pad);
      end
    end
  end
endmodule
