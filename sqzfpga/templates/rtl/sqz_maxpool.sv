// K x K / S max pooling, floor or ceil mode (taps outside the image are skipped, as ONNX pads
// -inf): for each chunk of C/NCH channels the sliding window issues the K*K taps of the output
// pixel; the chunk's maxima go into the output pixel. K*K*NCH cycles per output pixel.
module sqz_maxpool #(
    parameter int H = 8, W = 8, C = 4, IB = 8,
    parameter bit ISIGNED = 0,
    parameter int K = 3, S = 2, PT = 0, PL = 0, OH = 4, OW = 4, R = 4, NCH = 1,
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
  localparam int CC = C / NCH;  // channels per chunk
  logic w_valid, w_ready, w_pad, w_seg, w_first, w_last, w_p;
  logic [CC*IB-1:0] w_data, mx;
  logic [15:0] w_co, dco;
  logic have, done;
  logic [C*IB-1:0] collect;
  sqz_window #(.H(H), .W(W), .C(C), .IB(IB), .K(K), .S(S), .PT(PT), .PL(PL), .OH(OH), .OW(OW), .R(R),
               .NCH(NCH), .CHUNK_BY_CO(1), .NCI(1), .NSEG(1), .NCO0(NCH), .KS0(K), .NSTEP(K * K * NCH), .PW(1),
               .PFILE(""), .LBSTYLE(LBSTYLE)) win (
      .clk, .rst, .s_valid, .s_ready, .s_data, .m_valid(w_valid), .m_ready(w_ready), .m_data(w_data),
      .m_payload(w_p), .m_pad(w_pad), .m_co(w_co), .m_seg(w_seg), .m_first(w_first),
      .m_last(w_last));
  assign m_valid = done && dco == 16'(NCH - 1);
  assign w_ready = !(m_valid && !m_ready);
  always_comb begin
    m_data = collect;
    m_data[(NCH - 1) * CC * IB +: CC * IB] = mx;
  end
  always_ff @(posedge clk) begin
    if (rst) begin
      done <= 1'b0;
      have <= 1'b0;
    end else if (w_ready) begin
      done <= w_valid && w_last;
      if (done)
        for (int k = 0; k < NCH; k++)
          if (dco == 16'(k)) collect[k * CC * IB +: CC * IB] <= mx;
      if (w_valid) begin
        dco <= w_co;
        if (!w_pad) begin
          for (int c = 0; c < CC; c++) begin
            logic gt;
            gt = ISIGNED ? ($signed(w_data[c * IB +: IB]) > $signed(mx[c * IB +: IB]))
                         : (w_data[c * IB +: IB] > mx[c * IB +: IB]);
            if (w_first || !have || gt) mx[c * IB +: IB] <= w_data[c * IB +: IB];
          end
        end
        have <= w_last ? 1'b0 : (have || !w_pad);
      end
    end
  end
endmodule
