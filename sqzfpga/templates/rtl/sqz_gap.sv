// Global average pooling with exact rounding: per channel, sum the N pixels of a frame, then
// q = round_half_even(sum * 2^SHIFT / N) (SHIFT < 0 divides by N * 2^-SHIFT), saturated: the same
// integers as the QONNX Quant after GlobalAveragePool. One restoring divider serves all channels
// (NUMW + 2 cycles each) on a copy of the frame's sums taken with its last pixel, while the next
// frame's pixels add up: input waits only with a frame's last pixel while the divider still works on
// the previous frame or its result is not yet taken, so a frame takes max(N, C * (NUMW + 2) + 2)
// cycles (the planner's, rtl.unit) and the producer is not stalled for the division.
// The copy is a shift register that the divider reads at channel 0, and the results shift in from
// the top, so no register is selected by channel number: at C = 1,000 an indexed array (a 1,000-way
// read mux and 1,000 write decoders, arrays that Yosys turns into lists of registers) did not finish
// elaborating in Yosys; flat vectors keep every channel's logic local and the cycles the same.
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
  localparam int PX_BITS = (N > 1) ? $clog2(N) : 1;
  localparam int CNT_BITS = (NUMW > 1) ? $clog2(NUMW) : 1;  // quotient bits left - 1
  // Rounding and saturation without a long chain in the store cycle: round up (rup) is registered
  // from the last quotient bit's cycle, and the saturation tests compare the quotient q (not the
  // rounded value) with bounds adjusted for rup and the sign, at NUMW + 2 bits: with the quotient
  // below 2^NUMW, a bound is clamped to -1 .. 2^NUMW (NUMW < 40; wider quotients hold every bound).
  localparam int CW = NUMW + 2;
  localparam longint QLIM = 64'sd1 <<< ((NUMW < 40) ? NUMW : 40);
  function automatic logic signed [CW-1:0] bound(input longint t);  // t clamped to -1 .. QLIM
    bound = CW'((t > QLIM) ? QLIM : ((t < -1) ? -64'sd1 : t));
  endfunction
  // value = (neg ? -1 : 1) * (q + rup): above OMAX (hi) or below OMIN (lo), as q against constants
  localparam logic signed [CW-1:0] P_HI0 = bound(OMAX), P_HI1 = bound(OMAX - 1);         // q + rup > OMAX
  localparam logic signed [CW-1:0] P_LO0 = bound(64'(OMIN)), P_LO1 = bound(64'(OMIN) - 1);  // q + rup < OMIN
  localparam logic signed [CW-1:0] N_HI0 = bound(-OMAX), N_HI1 = bound(-OMAX - 1);       // q + rup < -OMAX
  localparam logic signed [CW-1:0] N_LO0 = bound(-64'(OMIN)), N_LO1 = bound(-64'(OMIN) - 1);  // q + rup > -OMIN
  logic [C*SUMW-1:0] sum;                 // per channel (SUMW bits each, signed), the frame's sum so far
  logic [C*SUMW-1:0] total;               // the sums being divided, shifted down one channel per load
  logic [PX_BITS-1:0] px_count;           // pixels of the frame taken
  logic px_last;                          // px_count == N - 1: the next pixel is the frame's last
  logic [CH_BITS-1:0] div_ch;             // channel being divided
  logic [CNT_BITS-1:0] div_cnt;           // its quotient bits still to find, minus one
  logic dividing, loading, storing;       // dividing: load (one cycle), NUMW quotient bits, store (one cycle)
  logic div_neg;                          // the channel's scaled sum is negative (divided as its magnitude)
  logic [NUMW-1:0] dividend, quotient;    // both shift left one bit per quotient bit
  logic [NUMW:0] remainder;
  logic rup;                              // the quotient rounds up (half to even), from the last bit's cycle
  assign s_ready = !px_last || (!dividing && !m_valid);

  // per channel, the sum with this pixel added (what sum and, with a frame's last pixel, total take)
  logic take, take_last;                  // a pixel is taken; it is the frame's last
  assign take = s_valid && s_ready;
  assign take_last = take && px_last;
  logic load_ch;                          // the divider loads channel div_ch (from total's bottom)
  assign load_ch = dividing && loading;
  logic [C*SUMW-1:0] total_down;          // total shifted down one channel
  assign total_down = total >> SUMW;
  for (genvar c = 0; c < C; c++) begin : g_ch
    logic signed [SUMW-1:0] px, added;
    assign px = ISIGNED ? SUMW'($signed(s_data[c * IB +: IB])) : SUMW'($signed({1'b0, s_data[c * IB +: IB]}));
    assign added = $signed(sum[c * SUMW +: SUMW]) + px;
    always_ff @(posedge clk) begin
      // cleared as by a reset (the FFs' synchronous reset, not a LUT per bit), else the pixel added
      if (rst || take_last) sum[c * SUMW +: SUMW] <= '0;
      else if (take) sum[c * SUMW +: SUMW] <= added;
      // the frame's sums go to the divider with its last pixel; each load shifts the next channel down
      if (take_last) total[c * SUMW +: SUMW] <= added;
      else if (load_ch) total[c * SUMW +: SUMW] <= total_down[c * SUMW +: SUMW];
    end
  end

  // one quotient bit; with the remainder after it, whether the final quotient rounds up
  logic [NUMW:0] trial;
  logic [NUMW+1:0] trial2;
  logic q_bit, rup_next;
  always_comb begin
    trial = {remainder[NUMW-1:0], dividend[NUMW-1]};
    q_bit = trial >= (NUMW+1)'(DIVISOR);
    // remainder r = q_bit ? trial - D : trial; round up when 2r > D, or 2r = D and the quotient
    // (then ending in q_bit) is odd: 2 trial >= 3D with q_bit, 2 trial > D without
    trial2 = {trial, 1'b0};
    rup_next = q_bit ? (trial2 >= 3 * (NUMW+2)'(DIVISOR)) : (trial2 > (NUMW+2)'(DIVISOR));
  end

  // rounding and saturation of the finished quotient
  logic signed [CW-1:0] qs;
  logic hi, lo;
  logic [OB-1:0] value, saturated;
  always_comb begin
    qs = $signed({2'b00, quotient});
    if (div_neg) begin
      hi = rup ? qs < N_HI1 : qs < N_HI0;
      lo = rup ? qs > N_LO1 : qs > N_LO0;
    end else begin
      hi = rup ? qs > P_HI1 : qs > P_HI0;
      lo = rup ? qs < P_LO1 : qs < P_LO0;
    end
    // (neg ? -1 : 1) * (q + rup) = (q ^ neg) + (neg ^ rup), its low OB bits
    value = OB'({2'b00, quotient} ^ {(NUMW+2){div_neg}}) + OB'(div_neg ^ rup);
    if (hi) saturated = OB'(OMAX);
    else if (lo) saturated = OB'(OMIN);
    else saturated = value;
  end

  always_ff @(posedge clk) begin
    if (rst) begin
      px_count <= '0; px_last <= N == 1; dividing <= 1'b0; m_valid <= 1'b0;
    end else begin
      if (m_valid && m_ready) m_valid <= 1'b0;
      if (take) begin
        if (px_last) begin  // the frame's sums go to the divider (g_ch); the next frame starts from zero
          px_count <= '0; px_last <= N == 1; dividing <= 1'b1; div_ch <= '0; loading <= 1'b1; storing <= 1'b0;
        end else begin
          px_count <= px_count + 1'b1;
          px_last <= px_count == PX_BITS'(N - 2);
        end
      end
      if (dividing) begin
        if (loading) begin  // load channel div_ch, at total's bottom
          logic signed [NUMW-1:0] scaled;
          scaled = NUMW'($signed(total[SUMW-1:0])) <<< ((SHIFT > 0) ? SHIFT : 0);
          div_neg <= scaled < 0;
          dividend <= (scaled < 0) ? NUMW'(-scaled) : NUMW'(scaled);
          remainder <= '0; quotient <= '0; div_cnt <= CNT_BITS'(NUMW - 1); loading <= 1'b0;
        end else if (!storing) begin  // one quotient bit per cycle, most significant first
          remainder <= q_bit ? trial - (NUMW+1)'(DIVISOR) : trial;
          quotient <= {quotient[NUMW-2:0], q_bit};
          dividend <= dividend << 1;
          rup <= rup_next;
          if (div_cnt == '0) storing <= 1'b1;
          div_cnt <= div_cnt - 1'b1;
        end else begin  // store at the top, the channels before shifting down: channel 0 ends at the bottom
          m_data <= (C*OB)'({saturated, m_data} >> OB);
          storing <= 1'b0;
          if (div_ch == CH_BITS'(C - 1)) begin dividing <= 1'b0; m_valid <= 1'b1; end
          else begin div_ch <= div_ch + 1'b1; loading <= 1'b1; end
        end
      end
    end
  end
endmodule
