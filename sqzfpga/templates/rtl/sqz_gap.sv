// Global average pooling with exact rounding: per channel, sum the N pixels of a frame, then
// q = round_half_even(sum * 2^SHIFT / N) (SHIFT < 0 divides by N * 2^-SHIFT), saturated: the same
// integers as the QONNX Quant after GlobalAveragePool. One restoring divider serves all channels
// (NUMW cycles each) after the last pixel; input waits meanwhile.
module sqz_gap #(
    // pixels per frame, averaged over (1..65536: 16-bit pixel counter)
    parameter int N = 9,
    // channels (>= 1)
    parameter int C = 4,
    // bits per input channel (>= 1)
    parameter int IB = 8,
    // input is signed
    parameter bit ISIGNED = 0,
    // bits of a channel's sum, signed (>= IB + 1 + $clog2(N): N inputs summed without overflow)
    parameter int SUMW = 16,
    // bits of the divider's numerator and denominator (>= SUMW + max(SHIFT, 0), and >= OB - 2)
    parameter int NUMW = 20,
    // output fraction bits minus input fraction bits: the sum is scaled by 2^SHIFT before dividing by N
    parameter int SHIFT = 0,
    // bits per output channel (1..32: the output words are 32 bits)
    parameter int OB = 16,
    // smallest output value, the output type's minimum (OMIN < OMAX; -2^31 <= OMIN: a 32-bit signed
    // parameter, so the plain integer a top passes, negative too, is its width)
    parameter int OMIN = 0,
    // largest output value, the output type's maximum (OMAX - OMIN < 2^OB; up to 2^32 - 1, an unsigned
    // 32-bit output's maximum, hence 64 bits; never negative, so a plain integer zero-extends to it)
    parameter longint OMAX = 65535
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
  // parameter checks at elaboration: Verilator (lint, simulation) and Yosys stop on a failed one
  if (N < 1 || N > 65536 || C < 1 || C > 65536 || IB < 1 || OB < 1 || OB > 32) begin : g_check1
    $error("Error: N (%0d) and C (%0d) must be in 1..65536 (16-bit counters), IB (%0d) at least 1, OB (%0d) in 1..32",
           N, C, IB, OB);
  end
  if (SUMW < IB + 1 + $clog2(N)) begin : g_check2
    $error("Error: SUMW (%0d) must be at least IB + 1 + $clog2(N) = %0d to hold the sum of N inputs",
           SUMW, IB + 1 + $clog2(N));
  end
  if (NUMW < SUMW + ((SHIFT > 0) ? SHIFT : 0) || NUMW < $clog2(N + 1) + ((SHIFT < 0) ? -SHIFT : 0) || OB > NUMW + 2) begin : g_check3
    $error("Error: NUMW (%0d) must hold the scaled sum (SUMW + SHIFT), the divisor N * 2^-SHIFT and OB - 2 bits",
           NUMW);
  end
  if (64'(OMIN) >= OMAX || OMAX - 64'(OMIN) >= (64'sd1 <<< OB)) begin : g_check4
    $error("Error: OMIN (%0d) must be below OMAX (%0d), both in one OB-bit (%0d) type", OMIN, OMAX, OB);
  end

  localparam logic [NUMW-1:0] DIVISOR = NUMW'(N) << ((SHIFT < 0) ? -SHIFT : 0);  // N * 2^-SHIFT
  localparam int CH_BITS = (C > 1) ? $clog2(C) : 1;
  localparam int BIT_BITS = $clog2(NUMW);  // index of a numerator bit
  localparam int CMPW = (NUMW + 2 > 64) ? NUMW + 2 : 64;  // the quotient and the 64-bit bounds, compared
  logic signed [SUMW-1:0] sum [C];        // per channel, the frame's sum so far
  logic [15:0] px_count;                  // pixels of the frame taken
  logic [15:0] div_ch, div_bit;           // channel being divided; its next quotient bit (NUMW: load, all ones: store)
  logic dividing;
  logic div_neg;                          // the channel's scaled sum is negative (divided as its magnitude)
  logic [NUMW-1:0] dividend, quotient;
  logic [NUMW:0] remainder;
  assign s_ready = !dividing && !m_valid;

  function automatic logic signed [SUMW-1:0] ext_px(input logic [C*IB-1:0] d, input int c);
    ext_px = ISIGNED ? SUMW'($signed(d[c * IB +: IB])) : SUMW'($signed({1'b0, d[c * IB +: IB]}));
  endfunction

  // rounding and saturation of one finished quotient
  logic [NUMW:0] remainder_x2;
  logic signed [NUMW+1:0] rounded, signed_q;
  logic [OB-1:0] saturated;
  always_comb begin
    remainder_x2 = remainder << 1;
    rounded = $signed({2'b00, quotient}) + (((remainder_x2 > (NUMW+1)'(DIVISOR)) || (remainder_x2 == (NUMW+1)'(DIVISOR) && quotient[0])) ? 1 : 0);
    signed_q = div_neg ? -rounded : rounded;
    if (CMPW'(signed_q) > CMPW'(OMAX)) saturated = OB'(OMAX);
    else if (CMPW'(signed_q) < CMPW'(OMIN)) saturated = OB'(OMIN);
    else saturated = signed_q[OB-1:0];
  end

  always_ff @(posedge clk) begin
    if (rst) begin
      px_count <= '0; dividing <= 1'b0; m_valid <= 1'b0;
      for (int c = 0; c < C; c++) sum[c] <= '0;
    end else begin
      if (m_valid && m_ready) m_valid <= 1'b0;
      if (s_valid && s_ready) begin
        for (int c = 0; c < C; c++) sum[c] <= sum[c] + ext_px(s_data, c);
        if (px_count == 16'(N - 1)) begin
          px_count <= '0; dividing <= 1'b1; div_ch <= '0; div_bit <= 16'(NUMW);
        end else px_count <= px_count + 1'b1;
      end
      if (dividing) begin
        if (div_bit == 16'(NUMW)) begin  // load channel div_ch
          logic signed [NUMW-1:0] scaled;
          scaled = NUMW'(sum[CH_BITS'(div_ch)]) <<< ((SHIFT > 0) ? SHIFT : 0);
          div_neg <= scaled < 0;
          dividend <= (scaled < 0) ? NUMW'(-scaled) : NUMW'(scaled);
          remainder <= '0; quotient <= '0; div_bit <= div_bit - 1'b1;
        end else if (div_bit != 16'hFFFF) begin  // one quotient bit per cycle
          logic [NUMW:0] trial;
          trial = {remainder[NUMW-1:0], dividend[BIT_BITS'(div_bit)]};
          if (trial >= (NUMW+1)'(DIVISOR)) begin remainder <= trial - (NUMW+1)'(DIVISOR); quotient[BIT_BITS'(div_bit)] <= 1'b1; end
          else remainder <= trial;
          div_bit <= div_bit - 1'b1;
        end else begin  // store, next channel
          for (int k = 0; k < C; k++)
            if (div_ch == 16'(k)) m_data[k * OB +: OB] <= saturated;
          sum[CH_BITS'(div_ch)] <= '0;
          if (div_ch == 16'(C - 1)) begin dividing <= 1'b0; m_valid <= 1'b1; end
          else begin div_ch <= div_ch + 1'b1; div_bit <= 16'(NUMW); end
        end
      end
    end
  end
endmodule
