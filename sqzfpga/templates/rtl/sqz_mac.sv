// Matrix-vector MAC behind a sqz_window: PO output channels x PI input channels per step (PO*PI
// multipliers), exact accumulators, requantisation, and the output pixel assembled chunk by chunk.
// Weights come with each step (the window's payload ROM, entry (po, pi) at bits (po*PI+pi)*WB);
// biases, already aligned to the accumulator's binary point, sit in a small LUT ROM per chunk.
// Up to two segments (a Fire's 1x1 and 3x3 expands) with their own product alignment and ReLU.
// DSP packing (PACK = 2): output channels 2j and 2j+1 share one multiplier per input channel. The
// ROM holds the pair as one coefficient c = w_hi * 2^PS + w_lo (fields: w_lo in PS bits two's
// complement, then w_hi - [w_lo < 0] in WB + 1 bits), so c * x = (w_hi x) 2^PS + w_lo x exactly;
// the PI products are summed packed and split once: lo = the low PS bits (signed), hi = the rest
// plus the lo sign bit. Exact while |sum of PI lo products| < 2^(PS-1) (PS = WB + IB + clog2(PI),
// chosen by the generator), and c fits the DSP's wide port (25 bits on DSP48E1, 27 on DSP48E2).
// LUT multipliers (LUTMUL = 1, unpacked only): each product is a sum of the input shifted by the
// weight's bits (the sign bit subtracts), written so that synthesis builds adders, not DSPs.
module sqz_mac #(
    parameter int IB = 8,
    parameter bit ISIGNED = 0,
    parameter int PI = 1, PO = 1, WB = 8,
    parameter int PACK = 1, PS = 16,
    parameter bit LUTMUL = 0,
    parameter int NCO = 1,
    parameter int ACCW = 24,
    parameter int PSH0 = 0, PSH1 = 0,
    parameter int D = 8,
    parameter int OB = 8,
    parameter bit OSIGNED = 0,
    parameter bit RELU0 = 1, RELU1 = 1,
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
  localparam int PW = WB + IB + 1;
  localparam int EW = PACK * WB + PACK - 1;     // bits per ROM entry: one weight or one packed pair
  localparam int CWID = PS + WB + 1;            // a packed coefficient
  localparam int TW = CWID + IB + 1 + $clog2(PI + 1);

  function automatic signed [PW-1:0] lutmul(input signed [WB-1:0] w, input signed [IB:0] x);
    lutmul = '0;
    for (int b = 0; b < WB - 1; b++)
      if (w[b]) lutmul = lutmul + (PW'(x) <<< b);
    if (w[WB-1]) lutmul = lutmul - (PW'(x) <<< (WB - 1));
  endfunction
  localparam int COB = (NCO > 1) ? $clog2(NCO) : 1;
  (* rom_style = "logic" *) logic [PO*ACCW-1:0] bias [NCO];
  generate
    if (BFILE != "") begin : g_init
      initial $readmemh(BFILE, bias);
    end
  endgenerate

  logic signed [ACCW-1:0] acc [PO];
  logic done, dseg;
  logic [15:0] dco;
  logic stall;
  logic signed [ACCW-1:0] sum [PO];
  logic [PO*ACCW-1:0] bword;
  logic [PO*OB-1:0] rq0, rq1;
  logic [NCO*PO*OB-1:0] collect;

  assign m_valid = done && dco == 16'(NCO - 1);
  assign stall = m_valid && !m_ready;
  assign s_ready = !stall;
  assign bword = bias[COB'(s_co)];

  generate
    if (PACK == 1) begin : g_plain
      always_comb begin
        for (int po = 0; po < PO; po++) begin
          logic signed [ACCW-1:0] t;
          t = '0;
          for (int pi = 0; pi < PI; pi++) begin
            logic signed [WB-1:0] w;
            logic signed [IB:0] x;
            logic signed [PW-1:0] p;
            w = s_w[(po * PI + pi) * EW +: WB];
            x = ISIGNED ? {s_data[pi * IB + IB - 1], s_data[pi * IB +: IB]} : {1'b0, s_data[pi * IB +: IB]};
            p = LUTMUL ? lutmul(w, x) : w * x;
            t = t + ACCW'(p);
          end
          sum[po] = (s_seg ? (t <<< PSH1) : (t <<< PSH0));
        end
      end
    end else begin : g_packed
      always_comb begin
        for (int j = 0; j < PO / 2; j++) begin
          logic signed [TW-1:0] t, th;
          logic signed [ACCW-1:0] lo, hi;
          t = '0;
          for (int pi = 0; pi < PI; pi++) begin
            logic [EW-1:0] e;
            logic signed [CWID-1:0] c;
            logic signed [IB:0] x;
            logic signed [CWID+IB:0] p;
            e = s_w[(j * PI + pi) * EW +: EW];
            c = {e[EW-1:WB], {(PS - WB + 1){e[WB-1]}}, e[WB-2:0]};
            x = ISIGNED ? {s_data[pi * IB + IB - 1], s_data[pi * IB +: IB]} : {1'b0, s_data[pi * IB +: IB]};
            p = c * x;
            t = t + TW'(p);
          end
          lo = ACCW'($signed(t[PS-1:0]));
          th = t >>> PS;            // signed operands only: an unsigned one would make >>> logical
          if (t[PS-1]) th = th + TW'(1);
          hi = ACCW'(th);
          sum[2 * j] = (s_seg ? (lo <<< PSH1) : (lo <<< PSH0));
          sum[2 * j + 1] = (s_seg ? (hi <<< PSH1) : (hi <<< PSH0));
        end
      end
    end
  endgenerate

  genvar g;
  generate
    for (g = 0; g < PO; g++) begin : g_rq
      sqz_requant #(.AW(ACCW), .D(D), .OB(OB), .OSIGNED(OSIGNED), .RELU(RELU0)) rqa (
          .a(acc[g]), .q(rq0[g * OB +: OB]));
      sqz_requant #(.AW(ACCW), .D(D), .OB(OB), .OSIGNED(OSIGNED), .RELU(RELU1)) rqb (
          .a(acc[g]), .q(rq1[g * OB +: OB]));
    end
  endgenerate

  always_comb begin
    m_data = collect;
    m_data[(NCO - 1) * PO * OB +: PO * OB] = dseg ? rq1 : rq0;
  end

  always_ff @(posedge clk) begin
    if (rst) begin
      done <= 1'b0;
    end else if (!stall) begin
      done <= s_valid && s_last;
      dco <= s_co;
      dseg <= s_seg;
      if (done)
        for (int k = 0; k < NCO; k++)
          if (dco == 16'(k)) collect[k * PO * OB +: PO * OB] <= dseg ? rq1 : rq0;
      if (s_valid)
        for (int po = 0; po < PO; po++)
          acc[po] <= (s_first ? $signed(bword[po * ACCW +: ACCW]) : acc[po]) + (s_pad ? ACCW'(0) : sum[po]);
    end
  end
endmodule
