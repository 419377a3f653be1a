// Requantisation of an exact accumulator to the next layer's type: optional ReLU, a power-of-two
// shift right by D with round half to even (AP_RND_CONV, what QONNX Quant computes), saturation
// to [OMIN, OMAX] (AP_SAT). D <= 0 shifts left (exact). Purely combinational.
module sqz_requant #(
    // accumulator bits, signed (>= 1)
    parameter int AW = 16,
    // binary-point shift: accumulator fraction bits minus output fraction bits (D <= AW; D <= 0 shifts left)
    parameter int D = 4,
    // output bits (>= 1; below the working width AW + max(-D, 0) + 2, so that the bounds fit)
    parameter int OB = 8,
    // output is signed (two's complement) rather than unsigned
    parameter bit OSIGNED = 0,
    // a negative accumulator gives 0 (ReLU before rounding)
    parameter bit RELU = 1
) (
    input  logic signed [AW-1:0] a,
    output logic        [OB-1:0] q
);
  localparam int WORK_W = AW + ((D < 0) ? -D : 0) + 2;  // the shifted value, with room above it
  localparam logic signed [WORK_W-1:0] OMAX = OSIGNED ? WORK_W'((64'sd1 <<< (OB - 1)) - 1) : WORK_W'((64'sd1 <<< OB) - 1);
  localparam logic signed [WORK_W-1:0] OMIN = OSIGNED ? -WORK_W'(64'sd1 <<< (OB - 1)) : '0;

  // parameter checks at elaboration: Verilator (lint, simulation) and Yosys stop on a failed one
  if (AW < 1 || OB < 1) begin : g_check1
    $error("Error: AW (%0d) and OB (%0d) must be at least 1", AW, OB);
  end
  if (D > AW) begin : g_check2
    $error("Error: D (%0d) must not exceed AW (%0d): the rounding reads the D low bits of the accumulator",
           D, AW);
  end
  if (OB + (OSIGNED ? 0 : 1) > WORK_W) begin : g_check3
    $error("Error: OB (%0d) too wide for the working width %0d = AW + max(-D, 0) + 2: the output bounds would not fit",
           OB, WORK_W);
  end

  // Saturation is decided on the value before rounding (rounding adds at most one) and the output's OB
  // bits are added apart from it, so no carry chain waits for another: rounded > OMAX exactly when
  // base > OMAX or base == OMAX rounds up; rounded < OMIN when base < OMIN unless base == OMIN - 1 rounds up.
  logic signed [WORK_W-1:0] base;  // the value before rounding (D > 0: a / 2^D rounded down)
  logic round_up;
  generate
    if (D == 1) begin : g_right1     // one bit dropped: never above half, only ties (a compare with
      logic signed [AW-1:0] floor_q;  // half would be constant: Verilator's lint stops on it)
      assign floor_q = a >>> 1;
`ifdef SQZ_MUTANT_HALF_UP
      assign round_up = a[0];         // deliberately wrong: ties away from -inf, not to even
`else
      assign round_up = a[0] && floor_q[0];
`endif
      assign base = WORK_W'(floor_q);
    end else if (D > 1) begin : g_right
      logic signed [AW-1:0] floor_q;
      logic [D-1:0] dropped;          // the bits shifted out
      assign floor_q = a >>> D;
      assign dropped = a[D-1:0];
`ifdef SQZ_MUTANT_HALF_UP
      assign round_up = dropped >= (D)'(1 << (D - 1));  // deliberately wrong: ties away from -inf, not to even
`else
      assign round_up = (dropped > (D)'(1 << (D - 1))) || (dropped == (D)'(1 << (D - 1)) && floor_q[0]);
`endif
      assign base = WORK_W'(floor_q);
    end else begin : g_left
      assign round_up = 1'b0;
      assign base = WORK_W'(a) <<< (-D);
    end
  endgenerate
  logic hi, lo;
  logic [OB-1:0] inc;
  assign hi = base > OMAX || (base == OMAX && round_up);
  assign lo = base < OMIN && !(round_up && base == OMIN - WORK_W'(1));
  assign inc = base[OB-1:0] + OB'(round_up);
  always_comb begin
    if (RELU && a < 0) q = '0;
    else if (hi) q = OMAX[OB-1:0];
    else if (lo) q = OMIN[OB-1:0];
    else q = inc;
  end
endmodule
