// K x K / S average pooling, floor mode, no padding, with exact rounding: per output pixel and
// channel, q = round_half_even(sum * 2^SHIFT / (K*K)) (SHIFT < 0 divides by K*K * 2^-SHIFT),
// saturated: the integers of ONNX AveragePool followed by a QONNX Quant (ROUND), as sqz_gap.sv
// computes them for the global pool. The window schedule is sqz_maxpool's (sqz_window, chunks of
// C/CHUNKS channels, K*K*CHUNKS cycles per output pixel); each chunk's sums then pass a pipelined
// restoring divider (one quotient bit per stage, one divider per channel of a chunk), so the
// division costs NUMW + 3 cycles of latency and no throughput. The whole pipeline stalls while
// the output is not taken.
module sqz_avgpool #(
    parameter int H = 8,                // input height (pixels)
    parameter int W = 8,                // input width (pixels)
    parameter int C = 4,                // channels (input = output)
    parameter int IB = 8,               // bits per input value
    parameter bit ISIGNED = 0,          // input values are two's complement
    parameter int K = 2,                // kernel size (K x K window)
    parameter int S = 2,                // stride
    parameter int OH = 4,               // output height: (H - K) / S + 1 (floor mode)
    parameter int OW = 4,               // output width: (W - K) / S + 1
    parameter int R = 4,                // line-buffer rows: a power of two above K
    parameter int CHUNKS = 1,              // chunks per pixel: C / CHUNKS channels are summed per cycle
    parameter LBSTYLE = "block",        // line-buffer memory: "block" or "distributed"
    parameter int SUMW = 12,            // sum width: IB + 1 + bit length of K*K (ir/arith.py gap_widths)
    parameter int NUMW = 16,            // divider numerator width (gap_widths)
    parameter int SHIFT = 0,            // output frac - input frac
    parameter int OB = 8,               // bits per output value
    parameter bit OSIGNED = 0,          // output values are two's complement
    parameter int OMIN = 0,             // smallest output integer (saturation)
    parameter int OMAX = 255            // largest output integer (saturation)
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
  localparam int CC = C / CHUNKS;                                           // channels per chunk
  localparam int N = K * K;                                              // taps per window
  localparam int DSH = (SHIFT < 0) ? -SHIFT : 0;                         // divisor's extra shift
  localparam logic [NUMW-1:0] DEN = NUMW'(N) << DSH;                     // divisor
  localparam int DW = (DEN > 1) ? $clog2(DEN) : 1;                       // remainder bits (rem < DEN)
  localparam int CHB = (CHUNKS > 1) ? $clog2(CHUNKS) : 1;                      // chunk-number bits
  localparam int NS = NUMW + 3;  // stages: sums done, numerator loaded, NUMW quotient bits, rounded
  // Rounding and saturation without a long chain in the last stage (as sqz_gap.sv): round up is found
  // with the last quotient bit, and the saturation tests compare the quotient q (below 2^NUMW) with
  // bounds adjusted for round up and the sign, clamped to -1 .. 2^NUMW, at NUMW + 2 bits.
  localparam int CW = NUMW + 2;
  localparam longint QLIM = 64'sd1 <<< ((NUMW < 40) ? NUMW : 40);
  function automatic logic signed [CW-1:0] bound(input longint t);  // t clamped to -1 .. QLIM
    bound = CW'((t > QLIM) ? QLIM : ((t < -1) ? -64'sd1 : t));
  endfunction
  // value = (neg ? -1 : 1) * (q + rup): above OMAX (hi) or below OMIN (lo), as q against constants
  localparam logic signed [CW-1:0] P_HI0 = bound(64'(OMAX)), P_HI1 = bound(64'(OMAX) - 1);        // q + rup > OMAX
  localparam logic signed [CW-1:0] P_LO0 = bound(64'(OMIN)), P_LO1 = bound(64'(OMIN) - 1);        // q + rup < OMIN
  localparam logic signed [CW-1:0] N_HI0 = bound(-64'(OMAX)), N_HI1 = bound(-64'(OMAX) - 1);  // q + rup < -OMAX
  localparam logic signed [CW-1:0] N_LO0 = bound(-64'(OMIN)), N_LO1 = bound(-64'(OMIN) - 1);  // q + rup > -OMIN

  // ---- elaboration checks: what the schedule and the divider rely on (Verilator and Yosys both
  // stop on them; rtl/synth.py sets every parameter in one chparam, so Yosys sees only whole sets) ----
  if (C % CHUNKS != 0) begin : g_check_nch
    $error("sqz_avgpool: C = %0d is not a multiple of CHUNKS = %0d", C, CHUNKS);
  end
  if (K < 1 || S < 1 || H < K || W < K) begin : g_check_kernel
    $error("sqz_avgpool: kernel %0d / stride %0d does not fit the %0d x %0d input", K, S, H, W);
  end
  if (OH != (H - K) / S + 1 || OW != (W - K) / S + 1) begin : g_check_out
    $error("sqz_avgpool: output %0d x %0d is not the floor-mode, unpadded size", OH, OW);
  end
  if (R <= K || (R & (R - 1)) != 0) begin : g_check_rows
    $error("sqz_avgpool: R = %0d line-buffer rows must be a power of two above K = %0d", R, K);
  end
  if (SUMW < IB + 1 + $clog2(N + 1)) begin : g_check_sumw
    $error("sqz_avgpool: SUMW = %0d cannot hold a sum of %0d %0d-bit values", SUMW, N, IB);
  end
  if (NUMW < SUMW + ((SHIFT > 0) ? SHIFT : 0) + 1 || NUMW < $clog2(N + 1) + DSH + 1 || NUMW < OB + 1) begin : g_check_numw
    $error("sqz_avgpool: NUMW = %0d is too narrow for the shifted sum, the divisor or the output", NUMW);
  end
  if (OB < 1 || OB > 31 || OMIN != (OSIGNED ? -(1 <<< (OB - 1)) : 0) ||
      OMAX != (OSIGNED ? (1 <<< (OB - 1)) - 1 : (1 <<< OB) - 1)) begin : g_check_out_range
    $error("sqz_avgpool: OMIN/OMAX = %0d/%0d are not the range of a %0d-bit output (1..31 bits)", OMIN, OMAX, OB);
  end

  // ---- window schedule (as sqz_maxpool, never padded) ----
  logic w_valid, w_ready, w_pad, w_seg, w_first, w_last, w_p;
  logic [CC*IB-1:0] w_data;
  logic [15:0] w_co;
  sqz_window #(.H(H), .W(W), .C(C), .IB(IB), .K(K), .S(S), .PT(0), .PL(0), .OH(OH), .OW(OW), .R(R),
               .CHUNKS(CHUNKS), .CHUNK_BY_CO(1), .IN_CHUNKS(1), .NSEG(1), .NCO0(CHUNKS), .KS0(K), .NSTEP(K * K * CHUNKS), .PW(1),
               .PFILE(""), .LBSTYLE(LBSTYLE)) win (
      .clk, .rst, .s_valid, .s_ready, .s_data, .m_valid(w_valid), .m_ready(w_ready), .m_data(w_data),
      .m_payload(w_p), .m_pad(w_pad), .m_co(w_co), .m_seg(w_seg), .m_first(w_first),
      .m_last(w_last));

  // ---- stage bookkeeping: a valid bit and the chunk number per stage; all stages advance together ----
  logic adv;                       // the pipeline moves (the output is not blocked)
  logic [NS-1:0] vld;
  logic [NS*CHB-1:0] chunk;
  logic [CC*OB-1:0] res;           // the rounded chunk (stage NS-1)
  logic [C*OB-1:0] collect;        // finished chunks of the current output pixel
  logic out_valid, out_last;
  assign out_valid = vld[NS-1];
  assign out_last = chunk[(NS - 1) * CHB +: CHB] == CHB'(CHUNKS - 1);
  assign m_valid = out_valid && out_last;
  assign adv = !(m_valid && !m_ready);
  assign w_ready = adv;
  always_comb begin
    m_data = collect;
    m_data[(CHUNKS - 1) * CC * OB +: CC * OB] = res;
  end
  always_ff @(posedge clk) begin
    if (rst) vld <= '0;
    else if (adv) vld <= {vld[NS-2:0], w_valid && w_last};
    if (adv) begin
      chunk <= {chunk[(NS - 1) * CHB - 1:0], CHB'(w_co)};
      if (out_valid && !out_last)
        for (int k = 0; k < CHUNKS - 1; k++)
          if (chunk[(NS - 1) * CHB +: CHB] == CHB'(k)) collect[k * CC * OB +: CC * OB] <= res;
    end
  end

  // ---- per channel of a chunk: running sum, then the divider pipeline ----
  genvar gc;
  generate
    for (gc = 0; gc < CC; gc++) begin : g_ch
      logic signed [SUMW-1:0] sum;               // sum of the chunk's taps so far (stage 0 when done)
      logic [(NUMW+1)*NUMW-1:0] num;             // |sum * 2^SHIFT| at stages 1..NUMW+1
      logic [(NUMW+1)*NUMW-1:0] quo;             // quotient bits found so far
      logic [(NUMW+1)*DW-1:0] rem;               // partial remainder (< DEN)
      logic [NUMW:0] neg;                        // the sum was negative
      logic rup;                                 // the quotient rounds up (half to even), with the last bit
      always_ff @(posedge clk) begin
        if (adv) begin
          logic signed [NUMW-1:0] v;
          logic [DW:0] t;
          logic [DW+1:0] t2;
          logic [NUMW-1:0] q;
          logic signed [CW-1:0] qs;
          logic hi, lo;
          if (w_valid)
            sum <= (w_first ? SUMW'(0) : sum) +
                   (ISIGNED ? SUMW'($signed(w_data[gc * IB +: IB])) : SUMW'($signed({1'b0, w_data[gc * IB +: IB]})));
          // stage 1: scale and take the magnitude
          v = NUMW'(sum) <<< ((SHIFT > 0) ? SHIFT : 0);
          neg[0] <= v < 0;
          num[0 +: NUMW] <= (v < 0) ? NUMW'(-v) : NUMW'(v);
          quo[0 +: NUMW] <= '0;
          rem[0 +: DW] <= '0;
          // stages 2..NUMW+1: restoring division, most significant quotient bit first
          for (int j = 0; j < NUMW; j++) begin
            t = {rem[j * DW +: DW], num[j * NUMW + NUMW - 1 - j]};
            q = quo[j * NUMW +: NUMW];
            q[NUMW - 1 - j] = t >= (DW+1)'(DEN);
            rem[(j + 1) * DW +: DW] <= DW'(q[NUMW - 1 - j] ? t - (DW+1)'(DEN) : t);
            if (j == NUMW - 1) begin
              // remainder r = q0 ? t - DEN : t; round up when 2r > DEN, or 2r = DEN and q (ending in q0)
              // is odd: 2t >= 3 DEN with q0, 2t > DEN without
              t2 = {t, 1'b0};
              rup <= q[0] ? t2 >= 3 * (DW+2)'(DEN) : t2 > (DW+2)'(DEN);
            end
            quo[(j + 1) * NUMW +: NUMW] <= q;
            num[(j + 1) * NUMW +: NUMW] <= num[j * NUMW +: NUMW];
            neg[j + 1] <= neg[j];
          end
          // stage NUMW+2: round half to even, restore the sign, saturate
          q = quo[NUMW * NUMW +: NUMW];
          qs = $signed({2'b00, q});
          if (neg[NUMW]) begin
            hi = rup ? qs < N_HI1 : qs < N_HI0;
            lo = rup ? qs > N_LO1 : qs > N_LO0;
          end else begin
            hi = rup ? qs > P_HI1 : qs > P_HI0;
            lo = rup ? qs < P_LO1 : qs < P_LO0;
          end
          // (neg ? -1 : 1) * (q + rup) = (q ^ neg) + (neg ^ rup), its low OB bits
          if (hi) res[gc * OB +: OB] <= OB'(OMAX);
          else if (lo) res[gc * OB +: OB] <= OB'(OMIN);
          else res[gc * OB +: OB] <= OB'({2'b00, q} ^ {(NUMW+2){neg[NUMW]}}) + OB'(neg[NUMW] ^ rup);
        end
      end
    end
  endgenerate
endmodule
