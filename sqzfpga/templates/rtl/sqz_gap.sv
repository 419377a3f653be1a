// Global average pooling with exact rounding: per channel, sum the N pixels of a frame, then
// q = round_half_even(sum * 2^SHIFT / N) (SHIFT < 0 divides by N * 2^-SHIFT), saturated: the same
// integers as the QONNX Quant after GlobalAveragePool. One restoring divider serves all channels
// (NUMW cycles each) after the last pixel; input waits meanwhile.
module sqz_gap #(
    parameter int N = 9, C = 4, IB = 8,
    parameter bit ISIGNED = 0,
    parameter int SUMW = 16, NUMW = 20, SHIFT = 0,
    parameter int OB = 16,
    parameter longint OMIN = 0, OMAX = 65535
) (
    input  logic            clk,
    input  logic            rst,
    input  logic            s_valid,
    output logic            s_ready,
    input  logic [C*IB-1:0] s_data,
    output logic            m_valid,
    input  logic            m_ready,
    output logic [C*OB-1:0] m_data
);
  localparam logic [NUMW-1:0] DEN = NUMW'(N) << ((SHIFT < 0) ? -SHIFT : 0);
  localparam int CB = (C > 1) ? $clog2(C) : 1;
  localparam int NB = $clog2(NUMW);
  logic signed [SUMW-1:0] sum [C];
  logic [15:0] cnt, ch, bitn;
  logic dividing;
  logic neg;
  logic [NUMW-1:0] num, quo;
  logic [NUMW:0] rem;
  assign s_ready = !dividing && !m_valid;

  function automatic logic signed [SUMW-1:0] px(input logic [C*IB-1:0] d, input int c);
    px = ISIGNED ? SUMW'($signed(d[c * IB +: IB])) : SUMW'($signed({1'b0, d[c * IB +: IB]}));
  endfunction

  // rounding and saturation of one finished quotient
  logic [NUMW:0] rem2;
  logic signed [NUMW+1:0] q, qs;
  logic [OB-1:0] qo;
  always_comb begin
    rem2 = rem << 1;
    q = $signed({2'b00, quo}) + (((rem2 > (NUMW+1)'(DEN)) || (rem2 == (NUMW+1)'(DEN) && quo[0])) ? 1 : 0);
    qs = neg ? -q : q;
    if (64'(qs) > OMAX) qo = OB'(OMAX);
    else if (64'(qs) < OMIN) qo = OB'(OMIN);
    else qo = qs[OB-1:0];
  end

  always_ff @(posedge clk) begin
    if (rst) begin
      cnt <= '0; dividing <= 1'b0; m_valid <= 1'b0;
      for (int c = 0; c < C; c++) sum[c] <= '0;
    end else begin
      if (m_valid && m_ready) m_valid <= 1'b0;
      if (s_valid && s_ready) begin
        for (int c = 0; c < C; c++) sum[c] <= sum[c] + px(s_data, c);
        if (cnt == 16'(N - 1)) begin
          cnt <= '0; dividing <= 1'b1; ch <= '0; bitn <= 16'(NUMW);
        end else cnt <= cnt + 1'b1;
      end
      if (dividing) begin
        if (bitn == 16'(NUMW)) begin  // load channel ch
          logic signed [NUMW-1:0] v;
          v = NUMW'(sum[CB'(ch)]) <<< ((SHIFT > 0) ? SHIFT : 0);
          neg <= v < 0;
          num <= (v < 0) ? NUMW'(-v) : NUMW'(v);
          rem <= '0; quo <= '0; bitn <= bitn - 1'b1;
        end else if (bitn != 16'hFFFF) begin  // one quotient bit per cycle
          logic [NUMW:0] t;
          t = {rem[NUMW-1:0], num[NB'(bitn)]};
          if (t >= (NUMW+1)'(DEN)) begin rem <= t - (NUMW+1)'(DEN); quo[NB'(bitn)] <= 1'b1; end
          else rem <= t;
          bitn <= bitn - 1'b1;
        end else begin  // store, next channel
          for (int k = 0; k < C; k++)
            if (ch == 16'(k)) m_data[k * OB +: OB] <= qo;
          sum[CB'(ch)] <= '0;
          if (ch == 16'(C - 1)) begin dividing <= 1'b0; m_valid <= 1'b1; end
          else begin ch <= ch + 1'b1; bitn <= 16'(NUMW); end
        end
      end
    end
  end
endmodule
