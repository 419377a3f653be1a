// Requantisation of an exact accumulator to the next layer's type: optional ReLU, a power-of-two
// shift right by D with round half to even (AP_RND_CONV, what QONNX Quant computes), saturation
// to [OMIN, OMAX] (AP_SAT). D <= 0 shifts left (exact). Purely combinational.
module sqz_requant #(
    parameter int AW = 16,
    parameter int D = 4,
    parameter int OB = 8,
    parameter bit OSIGNED = 0,
    parameter bit RELU = 1
) (
    input  logic signed [AW-1:0] a,
    output logic        [OB-1:0] q
);
  localparam int XW = AW + ((D < 0) ? -D : 0) + 2;
  localparam logic signed [XW-1:0] OMAX = OSIGNED ? XW'((64'sd1 <<< (OB - 1)) - 1) : XW'((64'sd1 <<< OB) - 1);
  localparam logic signed [XW-1:0] OMIN = OSIGNED ? -XW'(64'sd1 <<< (OB - 1)) : '0;
  logic signed [XW-1:0] r;
  generate
    if (D > 0) begin : g_right
      logic signed [AW-1:0] fl;
      logic [D-1:0] rem;
      logic up;
      assign fl = a >>> D;
      assign rem = a[D-1:0];
`ifdef SQZ_MUTANT_HALF_UP
      assign up = rem >= (D)'(1 << (D - 1));  // deliberately wrong: ties away from -inf, not to even
`else
      assign up = (rem > (D)'(1 << (D - 1))) || (rem == (D)'(1 << (D - 1)) && fl[0]);
`endif
      assign r = XW'(fl) + XW'(up);
    end else begin : g_left
      assign r = XW'(a) <<< (-D);
    end
  endgenerate
  always_comb begin
    if (RELU && a < 0) q = '0;
    else if (r > OMAX) q = OMAX[OB-1:0];
    else if (r < OMIN) q = OMIN[OB-1:0];
    else q = r[OB-1:0];
  end
endmodule
