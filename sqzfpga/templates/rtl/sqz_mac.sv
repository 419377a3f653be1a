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
  localparam int SW = (PACK == 2) ? PSUM_W : ACCW;       // adder-tree node bits
  localparam int NC = PO / PACK;                         // multiplier columns: one sum of PI products each
  localparam int CO_BITS = (NCO > 1) ? $clog2(NCO) : 1;

  // ---- pipeline ----------------------------------------------------------------------------------
  // Every register advances together on `adv` (no output waiting): a stalled output freezes the whole
  // MAC, so bubbles need no buffering and the throughput stays one step per cycle. Stages: A (input
  // registers: the DSP's A/B registers), the adder tree over PI (the products, a DSP's MREG, then a
  // register after every TREE_STEP levels and at the root), S (packed-sum split and product
  // alignment), ACC (accumulators), OUT (the requantised pixel). Latency: 4 + registered tree levels.
  localparam int TREE_STEP = 2;                          // adder levels per pipeline register
  localparam int LV = (PI > 1) ? $clog2(PI) : 0;         // adder-tree levels
  function automatic int nodes(input int l);             // nodes at tree level l (0: the products)
    nodes = (PI + (1 << l) - 1) >> l;
  endfunction
  function automatic int off(input int l);               // first node of level l in the flat tree
    int o;
    o = 0;
    for (int k = 0; k < l; k++) o = o + nodes(k);
    off = o;
  endfunction
  function automatic bit regd(input int l);              // level l ends in a register: the products
    // (a DSP's MREG; a LUT product's shift-and-add), every TREE_STEP-th level after them, the root
    regd = (l == LV) || (l % TREE_STEP == 0);
  endfunction
  function automatic int nregs();                        // registered tree levels, products included
    int n;
    n = 0;
    for (int l = 0; l <= LV; l++) if (regd(l)) n = n + 1;
    nregs = n;
  endfunction
  localparam int NN = off(LV + 1);                       // tree nodes per column
  localparam int DEPTH = 2 + nregs();                    // stages A, tree registers (M first), S: before ACC
  localparam int CTL_W = 3 + CO_BITS + 1;                // valid, first, last, co, seg

  // A LUT multiplier: the shifted input per weight bit (the sign bit's term subtracted), summed as a
  // balanced tree, so a product is ceil(log2(WB)) carry chains deep, not WB - 1 (sums wrap at PROD_W bits
  // like the products they equal).
  function automatic signed [PROD_W-1:0] lutmul(input signed [WB-1:0] w, input signed [IB:0] x);
    logic [WB*PROD_W-1:0] t;
    for (int b = 0; b < WB; b++) t[b * PROD_W +: PROD_W] = w[b] ? PROD_W'(x) <<< b : '0;
    for (int s = 1; s < WB; s = 2 * s)
      for (int b = 0; b + s < WB; b = b + 2 * s)
        t[b * PROD_W +: PROD_W] = (b + s == WB - 1)
            ? PROD_W'($signed(t[b * PROD_W +: PROD_W]) - $signed(t[(b + s) * PROD_W +: PROD_W]))
            : PROD_W'($signed(t[b * PROD_W +: PROD_W]) + $signed(t[(b + s) * PROD_W +: PROD_W]));
    lutmul = (WB == 1) ? -$signed(t[PROD_W-1:0]) : $signed(t[PROD_W-1:0]);
  endfunction

  (* rom_style = "logic" *) logic [PO*ACCW-1:0] bias [NCO];
  generate
    if (BFILE != "") begin : g_init
      initial $readmemh(BFILE, bias);
    end
  endgenerate

  logic adv, out_valid;
  logic [DEPTH*CTL_W-1:0] ctl;          // control of stages A .. S, stage A in the low bits
  logic [CTL_W-1:0] ctl_in, ctl_t, ctl_s;  // entering A; at the tree's root (S's input); at S's output
  logic [PI*IB-1:0] a_x;                // stage A: the input chunk, zero on padded taps
  logic [NC*PI*ENTRY_W-1:0] a_w;        // stage A: the weights
  logic [NC*SW-1:0] root;               // each column's sum of PI products (registered)
  logic signed [ACCW-1:0] s_sum [PO];   // stage S (registered): per output channel, aligned to the accumulator
  logic [PO*ACCW-1:0] s_bias;           // the biases of the chunk at ACC (registered)
  logic signed [ACCW-1:0] acc [PO];
  logic done, done_seg;                 // stage ACC: a chunk's accumulators are final
  logic [CO_BITS-1:0] done_co;
  logic [PO*OB-1:0] rq_seg0, rq_seg1;
  logic [NCO*PO*OB-1:0] held_out;

  assign m_valid = out_valid;
  assign adv = !(out_valid && !m_ready);
  assign s_ready = adv;
  assign m_data = held_out;
  assign ctl_in = {s_seg, CO_BITS'(s_co), s_last, s_first, s_valid};
  assign ctl_t = ctl[(DEPTH - 2) * CTL_W +: CTL_W];
  assign ctl_s = ctl[(DEPTH - 1) * CTL_W +: CTL_W];

  always_ff @(posedge clk) begin
    if (rst) ctl <= '0;
    else if (adv) ctl <= {ctl[(DEPTH - 1) * CTL_W - 1:0], ctl_in};
    if (adv) begin
      a_x <= s_pad ? '0 : s_data;
      a_w <= s_w;
    end
  end

  // ---- products and adder tree, per column -------------------------------------------------------
  genvar j, i, l;
  generate
    for (j = 0; j < NC; j++) begin : g_col
      logic [NN*SW-1:0] node /*verilator split_var*/;  // every tree node as the next level sees it (register or sum)
      for (i = 0; i < PI; i++) begin : g_prod
        logic signed [IB:0] x;
        logic [ENTRY_W-1:0] e;
        logic signed [SW-1:0] p, p_q;  // the product, and its register (MREG)
        assign x = ISIGNED ? {a_x[i * IB + IB - 1], a_x[i * IB +: IB]} : {1'b0, a_x[i * IB +: IB]};
        assign e = a_w[(j * PI + i) * ENTRY_W +: ENTRY_W];
        if (PACK == 1) begin : g_plain
          logic signed [WB-1:0] w;
          assign w = e[WB-1:0];
          if (LUTMUL) begin : g_lut
            assign p = SW'(lutmul(w, x));
          end else begin : g_dsp
            logic signed [PROD_W-1:0] wx;
            assign wx = w * x;
            assign p = SW'(wx);
          end
        end else begin : g_packed
          logic signed [COEF_W-1:0] c;
          logic signed [COEF_W+IB:0] cx;
          assign c = {e[ENTRY_W-1:WB], {(PACK_SHIFT - WB + 1){e[WB-1]}}, e[WB-2:0]};
          assign cx = c * x;
          assign p = SW'(cx);
        end
        always_ff @(posedge clk) if (adv) p_q <= p;
        assign node[i * SW +: SW] = p_q;
      end
      for (l = 1; l <= LV; l++) begin : g_level
        for (i = 0; i < nodes(l); i++) begin : g_node
          localparam int IN0 = (off(l - 1) + 2 * i) * SW;  // the two nodes summed, and this one
          localparam int IN1 = IN0 + SW;
          localparam int OUT = (off(l) + i) * SW;
          logic signed [SW-1:0] s;
          if (2 * i + 1 < nodes(l - 1)) begin : g_add
            assign s = $signed(node[IN0 +: SW]) + $signed(node[IN1 +: SW]);
          end else begin : g_pass
            assign s = node[IN0 +: SW];
          end
          if (regd(l)) begin : g_reg
            logic signed [SW-1:0] s_q;
            always_ff @(posedge clk) if (adv) s_q <= s;
            assign node[OUT +: SW] = s_q;
          end else begin : g_comb
            assign node[OUT +: SW] = s;
          end
        end
      end
      assign root[j * SW +: SW] = node[(NN - 1) * SW +: SW];
    end
  endgenerate

  // ---- stage S: split packed sums (lo = the low PACK_SHIFT bits, signed; hi = the rest plus lo's sign
  // bit), align products to the accumulator's binary point -------------------------------------------
  // the chunk's biases, read at S into a register that ACC adds: the ROM's address is a control register
  // and `adv` only enables the register (a read port merged with its address register would route `adv`
  // through the address mux and the whole ROM: the stage-crossing ready path)
  // Above 64 chunks the ROM is read in two steps: one stage earlier (stage T - 1's chunk, DEPTH >= 3
  // always: the products are registered), every 64-entry bank at the chunk's low 6 bits (one LUT level
  // each) into a register, then at S the bank of the chunk's high bits (fire8's 256 chunks read in one
  // step took 8 levels of LUTs and MUXF7/F8, 6.81 ns at xc7z020 -1).
  localparam int BANK_BITS = (CO_BITS > 6) ? CO_BITS - 6 : 0;
  generate
    if (BANK_BITS > 0) begin : g_bias_banked
      logic [PO*ACCW-1:0] bank [1 << BANK_BITS];
      logic [5:0] lo_co;
      assign lo_co = ctl[(DEPTH - 3) * CTL_W + 3 +: 6];
      always_ff @(posedge clk) begin
        if (adv) begin
          for (int b = 0; b < (1 << BANK_BITS); b++)
            bank[b] <= (b * 64 + int'(lo_co) < NCO) ? bias[CO_BITS'(b * 64) + CO_BITS'(lo_co)] : '0;
          s_bias <= bank[ctl_t[3 + 6 +: BANK_BITS]];
        end
      end
    end else begin : g_bias
      always_ff @(posedge clk) if (adv) s_bias <= bias[ctl_t[3 +: CO_BITS]];
    end
  endgenerate
  generate
    for (j = 0; j < NC; j++) begin : g_split
      logic signed [SW-1:0] r;
      logic seg;
      assign r = root[j * SW +: SW];
      assign seg = ctl_t[3 + CO_BITS];
      if (PACK == 1) begin : g_plain
        logic signed [ACCW-1:0] v, v_q;
        assign v = ACCW'(r);
        always_ff @(posedge clk) if (adv) v_q <= seg ? (v <<< PROD_SHIFT1) : (v <<< PROD_SHIFT0);
        assign s_sum[j] = v_q;
      end else begin : g_packed
        logic signed [ACCW-1:0] lo, hi, lo_q, hi_q;
        logic signed [SW-1:0] lo_sign, hi_sum;
        assign lo_sign = $signed({{(SW - 1){1'b0}}, r[PACK_SHIFT-1]});
        assign lo = ACCW'($signed(r[PACK_SHIFT-1:0]));
        assign hi_sum = (r >>> PACK_SHIFT) + lo_sign;  // signed operands only: >>> stays arithmetic
        assign hi = ACCW'(hi_sum);
        always_ff @(posedge clk) begin
          if (adv) begin
            lo_q <= seg ? (lo <<< PROD_SHIFT1) : (lo <<< PROD_SHIFT0);
            hi_q <= seg ? (hi <<< PROD_SHIFT1) : (hi <<< PROD_SHIFT0);
          end
        end
        assign s_sum[2 * j] = lo_q;
        assign s_sum[2 * j + 1] = hi_q;
      end
    end
  endgenerate

  // ---- stage ACC and the requantised output -------------------------------------------------------
  genvar g;
  generate
    for (g = 0; g < PO; g++) begin : g_rq
      sqz_requant #(.AW(ACCW), .D(D), .OB(OB), .OSIGNED(OSIGNED), .RELU(RELU0)) rqa (
          .a(acc[g]), .q(rq_seg0[g * OB +: OB]));
      sqz_requant #(.AW(ACCW), .D(D), .OB(OB), .OSIGNED(OSIGNED), .RELU(RELU1)) rqb (
          .a(acc[g]), .q(rq_seg1[g * OB +: OB]));
    end
  endgenerate

  always_ff @(posedge clk) begin
    if (rst) begin
      done <= 1'b0;
      out_valid <= 1'b0;
    end else if (adv) begin
      done <= ctl_s[0] && ctl_s[2];
      done_co <= ctl_s[3 +: CO_BITS];
      done_seg <= ctl_s[3 + CO_BITS];
      out_valid <= done && done_co == CO_BITS'(NCO - 1);
      if (done)
        for (int k = 0; k < NCO; k++)
          if (done_co == CO_BITS'(k)) held_out[k * PO * OB +: PO * OB] <= done_seg ? rq_seg1 : rq_seg0;
      if (ctl_s[0])
        for (int po = 0; po < PO; po++)
          acc[po] <= (ctl_s[1] ? $signed(s_bias[po * ACCW +: ACCW]) : acc[po]) + s_sum[po];
    end
  end
endmodule
