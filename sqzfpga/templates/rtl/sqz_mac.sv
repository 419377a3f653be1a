// Matrix-vector MAC behind a sqz_window: PO output channels x PI input channels per step (PO*PI
// multipliers), exact accumulators, requantisation, and the output pixel assembled chunk by chunk.
// Weights come with each step (the window's payload ROM, entry (po, pi) at bits (po*PI+pi)*WB);
// biases, already aligned to the accumulator's binary point, sit in a small LUT ROM per chunk.
// Up to two segments (a Fire's 1x1 and 3x3 expands) with their own product alignment and ReLU.
// DSP packing (PACK = 2): output channels 2j and 2j+1 share one multiplier per input channel. The
// ROM holds the pair as one coefficient c = w_hi * 2^PACK_SHIFT + w_lo (fields: w_lo in PACK_SHIFT bits two's
// complement, then w_hi - [w_lo < 0] in WB + 1 bits), so c * x = (w_hi x) 2^PACK_SHIFT + w_lo x exactly;
// the PI products are summed packed and split once: lo = the low PACK_SHIFT bits (signed), hi = the rest
// plus the lo sign bit. Exact while |sum of PI lo products| < 2^(PACK_SHIFT-1) (PACK_SHIFT = WB + IB + clog2(PI),
// chosen by the generator), and c fits the DSP's wide port (25 bits on DSP48E1, 27 on DSP48E2).
// LUT multipliers (LUTMUL = 1, unpacked only): each product is a sum of the input shifted by the
// weight's bits (the sign bit subtracts), written so that synthesis builds adders, not DSPs.
module sqz_mac #(
    // bits per input channel (>= 1)
    parameter int IB = 8,
    // input is signed (else unsigned)
    parameter bit ISIGNED = 0,
    // input channels per step (>= 1): the chunk the window delivers
    parameter int PI = 1,
    // output channels per step (a multiple of PACK): PO * PI products per step
    parameter int PO = 1,
    // bits per weight, signed (>= 1; >= 2 when packed)
    parameter int WB = 8,
    // output channels per multiplier: 1, or 2 (DSP packing, see above)
    parameter int PACK = 1,
    // PACK 2: bit offset of the high channel in a packed coefficient (>= WB + IB + $clog2(PI))
    parameter int PACK_SHIFT = 16,
    // multipliers built from LUTs (shift-and-add) instead of DSP slices (needs PACK 1)
    parameter bit LUTMUL = 0,
    // output-channel chunks per pixel (>= 1): the pixel has NCO * PO channels
    parameter int NCO = 1,
    // accumulator bits, signed (>= WB + IB + 1: one full product; exact for the weights, sized by the generator)
    parameter int ACCW = 24,
    // segment 0: left shift of the products to the accumulator's binary point (>= 0)
    parameter int PROD_SHIFT0 = 0,
    // segment 1: left shift of the products to the accumulator's binary point (>= 0)
    parameter int PROD_SHIFT1 = 0,
    // requantisation shift: accumulator fraction bits minus output fraction bits (see sqz_requant)
    parameter int D = 8,
    // bits per output channel (>= 1)
    parameter int OB = 8,
    // output is signed
    parameter bit OSIGNED = 0,
    // segment 0: ReLU before requantisation
    parameter bit RELU0 = 1,
    // segment 1: ReLU before requantisation
    parameter bit RELU1 = 1,
    // $readmemh file of the biases: NCO words of PO accumulators of ACCW bits ("": not initialised)
    parameter BFILE = ""
) (
    input  logic                clk,
    input  logic                rst,
    input  logic                s_valid,
    output logic                s_ready,
    input  logic [PI*IB-1:0]    s_data,
    input  logic [PO/PACK*PI*(PACK*WB+PACK-1)-1:0] s_w,
    input  logic                s_pad,
    input  logic [15:0]         s_co,
    input  logic                s_seg,
    input  logic                s_first,
    input  logic                s_last,
    output logic                m_valid,
    input  logic                m_ready,
    output logic [NCO*PO*OB-1:0] m_data
);
  // parameter checks at elaboration: Verilator (lint, simulation) and Yosys stop on a failed one
  if (IB < 1 || PI < 1 || PO < 1 || WB < 1 || NCO < 1 || OB < 1) begin : g_check1
    $error("Error: IB, PI, PO, WB, NCO and OB must be at least 1");
  end
  if ((PACK != 1 && PACK != 2) || PO % PACK != 0) begin : g_check2
    $error("Error: PACK (%0d) must be 1 or 2 and divide PO (%0d)", PACK, PO);
  end
  if (PACK == 2 && (WB < 2 || PACK_SHIFT < WB + IB + $clog2(PI))) begin : g_check3
    $error("Error: packing needs WB >= 2 and PACK_SHIFT (%0d) at least WB + IB + $clog2(PI) = %0d: the low channel's sum of PI products must not reach the high channel",
           PACK_SHIFT, WB + IB + $clog2(PI));
  end
  if (LUTMUL && PACK != 1) begin : g_check4
    $error("Error: LUTMUL needs PACK 1: packed pairs are multiplied in DSP slices");
  end
  if (ACCW < WB + IB + 1) begin : g_check5
    $error("Error: ACCW (%0d) must be at least WB + IB + 1 = %0d: the accumulator holds at least one product",
           ACCW, WB + IB + 1);
  end
  if (PROD_SHIFT0 < 0 || PROD_SHIFT1 < 0) begin : g_check6
    $error("Error: PROD_SHIFT0 (%0d) and PROD_SHIFT1 (%0d) must not be negative: products shift left to the accumulator's binary point",
           PROD_SHIFT0, PROD_SHIFT1);
  end

  localparam int PROD_W = WB + IB + 1;           // one product (the input extended by a sign bit)
  localparam int ENTRY_W = PACK * WB + PACK - 1;  // bits per ROM entry: one weight or one packed pair
  localparam int COEF_W = PACK_SHIFT + WB + 1;           // a packed coefficient
  localparam int PSUM_W = COEF_W + IB + 1 + $clog2(PI + 1);  // sum of PI packed products

  function automatic signed [PROD_W-1:0] lutmul(input signed [WB-1:0] w, input signed [IB:0] x);
    lutmul = '0;
    for (int b = 0; b < WB - 1; b++)
      if (w[b]) lutmul = lutmul + (PROD_W'(x) <<< b);
    if (w[WB-1]) lutmul = lutmul - (PROD_W'(x) <<< (WB - 1));
  endfunction
  localparam int CO_BITS = (NCO > 1) ? $clog2(NCO) : 1;
  (* rom_style = "logic" *) logic [PO*ACCW-1:0] bias [NCO];
  generate
    if (BFILE != "") begin : g_init
      initial $readmemh(BFILE, bias);
    end
  endgenerate

  logic signed [ACCW-1:0] acc [PO];
  logic chunk_done, done_seg;
  logic [15:0] done_co;
  logic stall;
  logic signed [ACCW-1:0] sum [PO];
  logic [PO*ACCW-1:0] bias_word;
  logic [PO*OB-1:0] rq_seg0, rq_seg1;
  logic [NCO*PO*OB-1:0] held_out;

  assign m_valid = chunk_done && done_co == 16'(NCO - 1);
  assign stall = m_valid && !m_ready;
  assign s_ready = !stall;
  assign bias_word = bias[CO_BITS'(s_co)];

  generate
    if (PACK == 1) begin : g_plain
      always_comb begin
        for (int po = 0; po < PO; po++) begin
          logic signed [ACCW-1:0] psum;
          psum = '0;
          for (int pi = 0; pi < PI; pi++) begin
            logic signed [WB-1:0] w;
            logic signed [IB:0] x;
            logic signed [PROD_W-1:0] p;
            w = s_w[(po * PI + pi) * ENTRY_W +: WB];
            x = ISIGNED ? {s_data[pi * IB + IB - 1], s_data[pi * IB +: IB]} : {1'b0, s_data[pi * IB +: IB]};
            p = LUTMUL ? lutmul(w, x) : w * x;
            psum = psum + ACCW'(p);
          end
          sum[po] = (s_seg ? (psum <<< PROD_SHIFT1) : (psum <<< PROD_SHIFT0));
        end
      end
    end else begin : g_packed
      always_comb begin
        for (int j = 0; j < PO / 2; j++) begin
          logic signed [PSUM_W-1:0] psum, hi_sum;
          logic signed [ACCW-1:0] lo, hi;
          psum = '0;
          for (int pi = 0; pi < PI; pi++) begin
            logic [ENTRY_W-1:0] e;
            logic signed [COEF_W-1:0] c;
            logic signed [IB:0] x;
            logic signed [COEF_W+IB:0] p;
            e = s_w[(j * PI + pi) * ENTRY_W +: ENTRY_W];
            c = {e[ENTRY_W-1:WB], {(PACK_SHIFT - WB + 1){e[WB-1]}}, e[WB-2:0]};
            x = ISIGNED ? {s_data[pi * IB + IB - 1], s_data[pi * IB +: IB]} : {1'b0, s_data[pi * IB +: IB]};
            p = c * x;
            psum = psum + PSUM_W'(p);
          end
          lo = ACCW'($signed(psum[PACK_SHIFT-1:0]));
          hi_sum = psum >>> PACK_SHIFT;            // signed operands only: an unsigned one would make >>> logical
          if (psum[PACK_SHIFT-1]) hi_sum = hi_sum + PSUM_W'(1);
          hi = ACCW'(hi_sum);
          sum[2 * j] = (s_seg ? (lo <<< PROD_SHIFT1) : (lo <<< PROD_SHIFT0));
          sum[2 * j + 1] = (s_seg ? (hi <<< PROD_SHIFT1) : (hi <<< PROD_SHIFT0));
        end
      end
    end
  endgenerate

  genvar g;
  generate
    for (g = 0; g < PO; g++) begin : g_rq
      sqz_requant #(.AW(ACCW), .D(D), .OB(OB), .OSIGNED(OSIGNED), .RELU(RELU0)) rqa (
          .a(acc[g]), .q(rq_seg0[g * OB +: OB]));
      sqz_requant #(.AW(ACCW), .D(D), .OB(OB), .OSIGNED(OSIGNED), .RELU(RELU1)) rqb (
          .a(acc[g]), .q(rq_seg1[g * OB +: OB]));
    end
  endgenerate

  always_comb begin
    m_data = held_out;
    m_data[(NCO - 1) * PO * OB +: PO * OB] = done_seg ? rq_seg1 : rq_seg0;
  end

  always_ff @(posedge clk) begin
    if (rst) begin
      chunk_done <= 1'b0;
    end else if (!stall) begin
      chunk_done <= s_valid && s_last;
      done_co <= s_co;
      done_seg <= s_seg;
      if (chunk_done)
        for (int k = 0; k < NCO; k++)
          if (done_co == 16'(k)) held_out[k * PO * OB +: PO * OB] <= done_seg ? rq_seg1 : rq_seg0;
      if (s_valid)
        for (int po = 0; po < PO; po++)
          acc[po] <= (s_first ? $signed(bias_word[po * ACCW +: ACCW]) : acc[po]) + (s_pad ? ACCW'(0) : sum[po]);
    end
  end
endmodule
