// Sliding-window scheduler over a circular line buffer: the one schedule of every conv, Fire
// expand and max-pool layer (the RTL twin of stream_windows in sqz_layers.h).
//
// Input: one pixel (C channels of IB bits, channel 0 in the low bits) per beat, raster order,
// frames back to back. The buffer keeps R rows (R a power of two > K) of pixels stored as NCH
// chunks of C/NCH channels (a deep, narrow memory: block RAM holds it efficiently); an accepted
// pixel is written one chunk per cycle. A pixel is accepted while its slot no longer holds a row
// the current output pixel still needs, so input of the next row (or frame) overlaps the
// computation of this one.
// Output: for every output pixel, a sequence of "steps"; each step carries one chunk of one
// buffered input pixel (the tap (ky, kx) of the window; `pad` when it lies outside the image;
// chunk = the input-channel counter, or the output-chunk counter when CHUNK_BY_CO, as pooling
// does) and the payload ROM word for that step (the layer's weights). The step sequence is NSEG segments; segment s
// has NCO_s chunks of output channels, each reading the KS_s x KS_s centre taps, NCI input
// chunks per tap: for a conv NSEG = 1, KS0 = K; a Fire expand has the 1x1 expand (KS 1) and the
// 3x3 expand (KS 3) as two segments of one scheduler. Steps issue one per cycle.
module sqz_window #(
    parameter int H = 8, W = 8, C = 4, IB = 8,
    parameter int K = 3, S = 1, PT = 1, PL = 1, OH = 8, OW = 8,
    parameter int R = 4,
    parameter int NCH = 1,
    parameter bit CHUNK_BY_CO = 0,
    parameter int NCI = 1,
    parameter int NSEG = 1,
    parameter int NCO0 = 1, KS0 = 3,
    parameter int NCO1 = 1, KS1 = 1,
    parameter int NSTEP = 9,
    parameter int PW = 1,
    parameter PFILE = "",
    parameter PSTYLE = "block",
    parameter LBSTYLE = "block"
) (
    input  logic            clk,
    input  logic            rst,
    input  logic            s_valid,
    output logic            s_ready,
    input  logic [C*IB-1:0] s_data,
    output logic            m_valid,
    input  logic            m_ready,
    output logic [C/NCH*IB-1:0] m_data,
    output logic [PW-1:0]   m_payload,
    output logic            m_pad,
    output logic [15:0]     m_co,    // output-channel chunk, counted over both segments
    output logic            m_seg,
    output logic            m_first, // first step of a chunk
    output logic            m_last   // last step of a chunk
);
  localparam int RB = $clog2(R);
  localparam int CW = C / NCH * IB;  // bits per stored chunk
  localparam int CB = (W > 1) ? $clog2(W) : 1;
  localparam int LBD = R * W * NCH;
  localparam int CHB = (NCH > 1) ? $clog2(NCH) : 1;
  localparam int LBA = $clog2(LBD);
  localparam int SA = (NSTEP > 1) ? $clog2(NSTEP) : 1;

  // ---- state ----
  logic signed [15:0] by, bx;   // top-left input coordinate of the current output window
  logic [15:0] oy, ox;
  logic [RB-1:0] base;          // buffer slot of row 0 of the current output frame
  logic signed [15:0] in_r;     // row of the next input pixel, relative to the current output frame
  logic signed [15:0] in_c;
  logic [15:0] ci, kx, ky, co;
  logic seg;
  logic [SA-1:0] step;

  // ---- issue stage ----
  logic signed [15:0] last_r, last_c, first_r, iy, ix, ks, off;
  logic win_ok, stall, fire, wr, pad, frame_done, pix_done;
  logic busy, wr_chunk, px_in;       // chunked write of the accepted pixel
  logic [15:0] wch;
  logic [C*IB-1:0] px;               // the accepted pixel, held (load enable only) while written
  logic [CW-1:0] pxa [NCH];           // ... viewed as chunks: the write data is one array read
  logic [LBA-1:0] wptr;
  always_comb begin
    last_r = by + 16'(K - 1);
    if (last_r > 16'(H - 1)) last_r = 16'(H - 1);
    last_c = bx + 16'(K - 1);
    if (last_c > 16'(W - 1)) last_c = 16'(W - 1);
    first_r = (by < 0) ? 16'sd0 : by;
    win_ok = (in_r > last_r) || (in_r == last_r && in_c > last_c);
    ks = (NSEG > 1 && seg) ? 16'(KS1) : 16'(KS0);
    off = (16'(K) - ks) >>> 1;
    iy = by + $signed(ky) + off;
    ix = bx + $signed(kx) + off;
    pad = iy < 0 || iy >= 16'(H) || ix < 0 || ix >= 16'(W);
  end
  assign stall = m_valid && !m_ready;
  assign fire = win_ok && !stall;
  assign s_ready = !rst && !busy && (in_r < first_r + 16'(R));
  assign wr = s_valid && s_ready;
  // a pixel has arrived (counts for the window) once its last chunk is written
  assign wr_chunk = (NCH == 1) ? wr : busy;
  assign px_in = (NCH == 1) ? wr : (busy && wch == 16'(NCH - 1));
  assign pix_done = (ci == 16'(NCI - 1)) && (kx == ks - 1) && (ky == ks - 1) &&
                    (co == ((NSEG > 1 && seg) ? 16'(NCO1 - 1) : 16'(NCO0 - 1))) && (NSEG == 1 || seg);
  assign frame_done = fire && pix_done && ox == 16'(OW - 1) && oy == 16'(OH - 1);

  // ---- line buffer (chunked) and payload ROM, read synchronously on issue ----
  // addresses: (slot * W + column) * NCH + chunk; the write side is a pointer (pixels arrive in
  // ring order), the read side adds constant tables (no multipliers)
  always_comb
    for (int i = 0; i < NCH; i++) pxa[i] = px[i * CW +: CW];
  logic [RB-1:0] rslot;
  logic [LBA-1:0] slot_base [R];
  logic [LBA-1:0] col_base [W];
  genvar gi;
  generate
    for (gi = 0; gi < R; gi++) begin : g_slot
      assign slot_base[gi] = LBA'(gi * W * NCH);
    end
    for (gi = 0; gi < W; gi++) begin : g_col
      assign col_base[gi] = LBA'(gi * NCH);
    end
  endgenerate
  logic [15:0] rch;
  logic signed [15:0] ixc;
  assign rch = CHUNK_BY_CO ? co : ci;
  assign ixc = (ix < 0 || ix >= 16'(W)) ? 16'sd0 : ix;  // padded taps read anything
  assign rslot = base + RB'(iy);
  sqz_ram #(.WIDTH(CW), .DEPTH(LBD), .STYLE(LBSTYLE)) lb (
      .clk, .we(wr_chunk), .waddr(wptr),
      .wdata((NCH == 1) ? s_data[CW-1:0] : pxa[CHB'(wch)]),
      .re(fire), .raddr(slot_base[rslot] + col_base[CB'(ixc)] + LBA'(rch)),
      .rdata(m_data));
  generate
    if (PFILE != "") begin : g_rom
      sqz_rom #(.WIDTH(PW), .DEPTH(NSTEP), .FILE(PFILE), .STYLE(PSTYLE)) rom (
          .clk, .re(fire), .addr(step), .data(m_payload));
    end else begin : g_norom
      assign m_payload = '0;
    end
  endgenerate

  always_ff @(posedge clk) begin
    if (rst) begin
      by <= -16'(PT); bx <= -16'(PL); oy <= '0; ox <= '0; base <= '0; in_r <= '0; in_c <= '0;
      wptr <= '0; busy <= 1'b0; wch <= '0;
      ci <= '0; kx <= '0; ky <= '0; co <= '0; seg <= 1'b0; step <= '0; m_valid <= 1'b0;
    end else begin
      // input side
      if (wr_chunk) wptr <= (wptr == LBA'(LBD - 1)) ? '0 : wptr + 1'b1;
      if (wr) px <= s_data;  // (unused, and removed by synthesis, when NCH == 1)
      if (NCH > 1) begin
        if (wr) begin
          busy <= 1'b1;
          wch <= '0;
        end else if (busy) begin
          wch <= wch + 1'b1;
          if (wch == 16'(NCH - 1)) busy <= 1'b0;
        end
      end
      if (px_in) in_c <= (in_c == 16'(W - 1)) ? 16'sd0 : in_c + 16'sd1;
      in_r <= in_r + ((px_in && in_c == 16'(W - 1)) ? 16'sd1 : 16'sd0) - (frame_done ? 16'(H) : 16'sd0);
      if (frame_done) base <= base + RB'(H);
      // output side
      if (!stall) begin
        m_valid <= fire;
        m_pad <= pad;
        m_co <= (NSEG > 1 && seg) ? co + 16'(NCO0) : co;
        m_seg <= seg;
        m_first <= ci == 0 && kx == 0 && ky == 0;
        m_last <= ci == 16'(NCI - 1) && kx == ks - 1 && ky == ks - 1;
      end
      if (fire) begin
        step <= pix_done ? '0 : step + 1'b1;
        if (ci != 16'(NCI - 1)) ci <= ci + 1'b1;
        else begin
          ci <= '0;
          if (kx != ks - 1) kx <= kx + 1'b1;
          else begin
            kx <= '0;
            if (ky != ks - 1) ky <= ky + 1'b1;
            else begin
              ky <= '0;
              if (co != ((NSEG > 1 && seg) ? 16'(NCO1 - 1) : 16'(NCO0 - 1))) co <= co + 1'b1;
              else begin
                co <= '0;
                seg <= (NSEG > 1) ? !seg : 1'b0;
              end
            end
          end
        end
        if (pix_done) begin
          if (ox != 16'(OW - 1)) begin
            ox <= ox + 1'b1; bx <= bx + 16'(S);
          end else begin
            ox <= '0; bx <= -16'(PL);
            if (oy != 16'(OH - 1)) begin
              oy <= oy + 1'b1; by <= by + 16'(S);
            end else begin
              oy <= '0; by <= -16'(PT);
            end
          end
        end
      end
    end
  end
endmodule
