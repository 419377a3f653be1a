// Sliding-window scheduler over a circular line buffer: the one schedule of every conv, Fire
// expand and max-pool layer (the RTL twin of stream_windows in sqz_layers.h).
//
// Input: one pixel (C channels of IB bits, channel 0 in the low bits) per beat, raster order,
// frames back to back. The buffer keeps R rows (a power of two >= K) of pixels stored as CHUNKS
// chunks of C/CHUNKS channels (a deep, narrow memory: block RAM holds it efficiently); an accepted
// pixel is written one chunk per cycle. A pixel is accepted while its slot no longer holds a row
// the current output pixel still needs, so input of the next row (or frame) overlaps the
// computation of this one.
// Output: for every output pixel, a sequence of "steps"; each step carries one chunk of one
// buffered input pixel (the tap (ky, kx) of the window; `pad` when it lies outside the image;
// chunk = the input-channel counter, or the output-chunk counter when CHUNK_BY_CO, as pooling
// does) and the payload ROM word for that step (the layer's weights). The step sequence is NSEG segments; segment s
// has NCO_s chunks of output channels, each reading the KS_s x KS_s centre taps, IN_CHUNKS input
// chunks per tap: for a conv NSEG = 1, KS0 = K; a Fire expand has the 1x1 expand (KS 1) and the
// 3x3 expand (KS 3) as two segments of one scheduler. Steps issue one per cycle.
module sqz_window #(
    // input image height in pixels (H + R + K < 32768)
    parameter int H = 8,
    // input image width in pixels (W + K < 32768)
    parameter int W = 8,
    // channels per input pixel (a multiple of CHUNKS)
    parameter int C = 4,
    // bits per channel (>= 1)
    parameter int IB = 8,
    // window (kernel) height and width in pixels (>= 1)
    parameter int K = 3,
    // stride in pixels, both directions (>= 1)
    parameter int S = 1,
    // padding rows above the image (>= 0): the first window starts at row -PT
    parameter int PT = 1,
    // padding columns left of the image (>= 0): the first window starts at column -PL
    parameter int PL = 1,
    // output rows: windows per column (>= 1)
    parameter int OH = 8,
    // output columns: windows per row (>= 1)
    parameter int OW = 8,
    // line-buffer rows: a power of two, at least 2 and at least K (above K, the next row loads while this one is used)
    parameter int R = 4,
    // chunks per stored pixel: the buffer holds C / CHUNKS channels per word (divides C)
    parameter int CHUNKS = 1,
    // 1: the output-chunk counter picks the chunk read (pooling: NSEG 1, NCO0 = CHUNKS); 0: the input-chunk counter does (IN_CHUNKS = CHUNKS)
    parameter bit CHUNK_BY_CO = 0,
    // input chunks read per tap (steps per tap)
    parameter int IN_CHUNKS = 1,
    // segments of the step sequence (1, or 2 for a Fire's expand1x1 + expand3x3)
    parameter int NSEG = 1,
    // segment 0: output-channel chunks (>= 1)
    parameter int NCO0 = 1,
    // segment 0: taps per side, the centred KS0 x KS0 of the K x K window (1..K, K - KS0 even)
    parameter int KS0 = 3,
    // segment 1 (NSEG = 2): output-channel chunks (>= 1)
    parameter int NCO1 = 1,
    // segment 1 (NSEG = 2): taps per side (1..K, K - KS1 even)
    parameter int KS1 = 1,
    // steps per output pixel, the payload ROM's depth: IN_CHUNKS * (NCO0 * KS0^2 + NCO1 * KS1^2 if NSEG = 2)
    parameter int NSTEP = 9,
    // payload bits per step (>= 1; the weights of one step)
    parameter int PW = 1,
    // $readmemh file of the payload ROM, NSTEP words of PW bits ("": no ROM, payload zero)
    parameter PFILE = "",
    // payload ROM resource: "block" (block RAM), else LUT logic
    parameter PSTYLE = "block",
    // line-buffer resource: "block" (block RAM), else LUT RAM
    parameter LBSTYLE = "block"
) (
    input  logic            clk,
    input  logic            rst,
    input  logic            s_valid,
    output logic            s_ready,
    input  logic [C*IB-1:0] s_data,
    output logic            m_valid,
    input  logic            m_ready,
    output logic [C/CHUNKS*IB-1:0] m_data,
    output logic [PW-1:0]   m_payload,
    output logic            m_pad,
    output logic [15:0]     m_co,    // output-channel chunk, counted over both segments
    output logic            m_seg,
    output logic            m_first, // first step of a chunk
    output logic            m_last   // last step of a chunk
);
  // parameter checks at elaboration: Verilator (lint, simulation) and Yosys stop on a failed one
  if (H < 1 || W < 1 || C < 1 || IB < 1 || K < 1 || S < 1 || OH < 1 || OW < 1 || PT < 0 || PL < 0 || PW < 1) begin : g_check1
    $error("Error: H, W, C, IB, K, S, OH, OW and PW must be at least 1, PT and PL at least 0");
  end
  if (H + R + K > 32767 || W + K > 32767) begin : g_check2
    $error("Error: image %0d x %0d too large: H + R + K and W + K must stay below 32768",
           H, W);
  end
  if (R < 2 || (R & (R - 1)) != 0 || R < K) begin : g_check3
    $error("Error: R (%0d) must be a power of two, at least 2 and at least K (%0d): the buffer holds the window's rows",
           R, K);
  end
  if (CHUNKS < 1 || C % CHUNKS != 0) begin : g_check4
    $error("Error: CHUNKS (%0d) must divide C (%0d): a stored pixel is CHUNKS equal chunks", CHUNKS, C);
  end
  if (CHUNK_BY_CO ? (NCO0 != CHUNKS || NSEG != 1) : (IN_CHUNKS != CHUNKS)) begin : g_check5
    $error("Error: chunks read per output pixel must be the CHUNKS (%0d) stored ones: IN_CHUNKS (%0d) = CHUNKS, or with CHUNK_BY_CO NCO0 (%0d) = CHUNKS and NSEG 1",
           CHUNKS, IN_CHUNKS, NCO0);
  end
  if (NSEG < 1 || NSEG > 2 || NCO0 < 1 || (NSEG > 1 && NCO1 < 1)) begin : g_check6
    $error("Error: NSEG (%0d) must be 1 or 2 and each segment's NCO at least 1", NSEG);
  end
  if (KS0 < 1 || KS0 > K || (K - KS0) % 2 != 0 || (NSEG > 1 && (KS1 < 1 || KS1 > K || (K - KS1) % 2 != 0))) begin : g_check7
    $error("Error: KS0 (%0d) and KS1 (%0d) must be in 1..K (%0d) with K - KS even: the centred taps of the window",
           KS0, KS1, K);
  end
  if (NSTEP != IN_CHUNKS * (NCO0 * KS0 * KS0 + ((NSEG > 1) ? NCO1 * KS1 * KS1 : 0))) begin : g_check8
    $error("Error: NSTEP (%0d) must be IN_CHUNKS * (NCO0 * KS0^2 + NCO1 * KS1^2) = %0d, the steps of one output pixel",
           NSTEP, IN_CHUNKS * (NCO0 * KS0 * KS0 + ((NSEG > 1) ? NCO1 * KS1 * KS1 : 0)));
  end

  localparam int SLOT_BITS = $clog2(R);
  localparam int CHUNK_W = C / CHUNKS * IB;  // bits per stored chunk
  localparam int LB_DEPTH = R * W * CHUNKS;
  localparam int LB_ADDR_BITS = $clog2(LB_DEPTH);
  localparam int CHUNK_BITS = (CHUNKS > 1) ? $clog2(CHUNKS) : 1;
  localparam int STEP_BITS = (NSTEP > 1) ? $clog2(NSTEP) : 1;
  // counters as narrow as their ranges (short compare and carry chains)
  localparam int COL_BITS = (W > 1) ? $clog2(W) : 1;                 // input column
  localparam int CI_BITS = (IN_CHUNKS > 1) ? $clog2(IN_CHUNKS) : 1;  // input chunk
  localparam int K_BITS = (K > 1) ? $clog2(K) : 1;                   // tap row / column
  localparam int NCO_MAX = (NSEG > 1 && NCO1 > NCO0) ? NCO1 : NCO0;
  localparam int CO_BITS = (NCO_MAX > 1) ? $clog2(NCO_MAX) : 1;      // output chunk in a segment
  localparam int NCO_ALL = NCO0 + ((NSEG > 1) ? NCO1 : 0);
  localparam int MCO_BITS = (NCO_ALL > 1) ? $clog2(NCO_ALL) : 1;     // output chunk over both segments
  localparam int OX_BITS = (OW > 1) ? $clog2(OW) : 1;
  localparam int OY_BITS = (OH > 1) ? $clog2(OH) : 1;
  localparam int OFF0 = (K - KS0) / 2;                               // first window row/column of segment 0's taps
  localparam int OFF1 = (K - KS1) / 2;                               // ... of segment 1's
  localparam int DR_BITS = $clog2(H + K + R + PT + S + 2) + 2;       // signed row distances
  localparam int LC_BITS = COL_BITS + 1;                             // signed column, -1 .. W - 1

  // Timing structure (150 MHz class on Zynq-7000 -1): no coordinate arithmetic between a register
  // and the issue decision or the line-buffer address. The step sequence runs in two registered
  // places: H (head) is the step issued next, A (ahead) the step after it. On each issue H loads
  // the step A describes (its buffer address, pad flag, first/last flags, payload address) and A
  // advances; A's per-window values (pad flags, column and row address parts of its window's
  // taps, last column, input limit, ...) load on entering a window from constant tables indexed by
  // the window's output column or row, built at elaboration. Whether the head's window has arrived
  // is a register: d_row (input row minus the window's last row, +1 per stored row, -delta per
  // window) against zero, and the input column against the window's last column, computed for the
  // next cycle from register-only candidates that the late issue picks. The free-slot test behind
  // s_ready is registered the same way, and the counters' wrap flags are registers, so each enable
  // is take and one register, one gate after m_ready (sqz_window_take). One extra cycle after
  // reset fills H; otherwise steps issue on the same cycles as a plain counter schedule would.

  // ---- constant tables, indexed by a window's output column (row); each entry describes the window
  // after it (the first one after the last), the window A enters next. Arrays read by the index
  // (a balanced multiplexer), as words: columns {last image column (-1: none), per window column
  // its column * CHUNKS (0 outside the image), per column outside the image}; rows {the fields
  // below, per window row its slot relative to the frame's base slot, per row outside the image}:
  // slim = first row it needs - its last row + R (input is taken while d_row < slim), dlr = its
  // last row - this window's (+ H into the next frame), and the sums the tests use ----
  localparam int TXW = LC_BITS + K * LB_ADDR_BITS + K;
  localparam int TYW = 6 * DR_BITS + K * SLOT_BITS + K;
  // row word fields: slim, slim - 1, dlr, dlr - 1, slim + dlr, slim + dlr - 1
  localparam int TY_SLIM = K + K * SLOT_BITS, TY_SLIM1 = TY_SLIM + DR_BITS, TY_DLR = TY_SLIM1 + DR_BITS,
                 TY_DLR1 = TY_DLR + DR_BITS, TY_SD = TY_DLR1 + DR_BITS, TY_SD1 = TY_SD + DR_BITS;
  logic [TXW-1:0] tx_word [OW];
  logic [TYW-1:0] ty_word [OH];
  logic [LB_ADDR_BITS-1:0] slot_base [R];  // slot * W * CHUNKS
  genvar gi, gk;
  generate
    for (gi = 0; gi < OW; gi++) begin : g_tx
      localparam int NWX = ((gi == OW - 1) ? 0 : gi + 1) * S - PL;
      localparam int NLC = (NWX + K - 1 > W - 1) ? W - 1 : ((NWX + K - 1 < -1) ? -1 : NWX + K - 1);
      assign tx_word[gi][TXW-1 -: LC_BITS] = LC_BITS'(NLC);
      for (gk = 0; gk < K; gk++) begin : g_k
        localparam int X = NWX + gk;
        assign tx_word[gi][K + gk * LB_ADDR_BITS +: LB_ADDR_BITS] = LB_ADDR_BITS'((X < 0 || X >= W) ? 0 : X * CHUNKS);
        assign tx_word[gi][gk] = (X < 0 || X >= W);
      end
    end
    for (gi = 0; gi < OH; gi++) begin : g_ty
      localparam int WY = gi * S - PT;
      localparam int NWY = ((gi == OH - 1) ? 0 : gi + 1) * S - PT;
      localparam int LR = (WY + K - 1 > H - 1) ? H - 1 : WY + K - 1;
      localparam int NLR = (NWY + K - 1 > H - 1) ? H - 1 : NWY + K - 1;
      localparam int NFR = (NWY < 0) ? 0 : NWY;
      localparam int DLR = NLR - LR + ((gi == OH - 1) ? H : 0);
      localparam int SLIM = NFR - NLR + R;
      assign ty_word[gi][TYW-1 -: 6 * DR_BITS] = {DR_BITS'(SLIM + DLR - 1), DR_BITS'(SLIM + DLR), DR_BITS'(DLR - 1),
                                                  DR_BITS'(DLR), DR_BITS'(SLIM - 1), DR_BITS'(SLIM)};
      for (gk = 0; gk < K; gk++) begin : g_k
        localparam int Y = NWY + gk;
        assign ty_word[gi][K + gk * SLOT_BITS +: SLOT_BITS] = SLOT_BITS'(Y);  // Y mod R (R a power of two)
        assign ty_word[gi][gk] = (Y < 0 || Y >= H);
      end
    end
    for (gi = 0; gi < R; gi++) begin : g_slot
      assign slot_base[gi] = LB_ADDR_BITS'(gi * W * CHUNKS);
    end
  endgenerate
  localparam int LR0 = (K - 1 - PT > H - 1) ? H - 1 : K - 1 - PT;  // last row of the first window
  // The next window row's entries only load when A enters a new output row, at least OW * NSTEP takes
  // apart: with 3 or more, the row table read, the slot sum and slot_base's look-up run as a
  // two-register pipeline behind a_oy / a_bslot (valid two cycles after they change) instead of one
  // path through a wide table mux, two carry chains and slot_base's mux.
  localparam bit ROWPIPE = OW * NSTEP >= 3;
  localparam int NBSLOT0 = (OH == 1) ? H : 0;                        // nbslot after reset

  // ---- A: the step after the head, and its window ----
  logic [CI_BITS-1:0] a_ci;
  logic [K_BITS-1:0] a_kx, a_ky;
  logic [CO_BITS-1:0] a_co;
  logic [MCO_BITS-1:0] a_mco;              // output chunk counted over both segments (m_co)
  logic a_seg, a_ci_first;
  logic a_ci_last, a_kx_last, a_ky_last, a_co_last, a_pix;  // A's counters at their last values; A ends its output pixel
  logic w_kx, w_ky, w_co, a_pixrow;        // products of those (kept as registers: each enable is take and one
                                           // register): the tap column, the tap row, the output chunk wrap; the
                                           // pixel ends its output row
  logic [STEP_BITS-1:0] a_step;
  logic [OX_BITS-1:0] a_ox;
  logic [OY_BITS-1:0] a_oy;
  logic a_ox_last, a_oy_last;
  logic [SLOT_BITS-1:0] a_bslot;           // buffer slot of row 0 of A's frame
  logic [K-1:0] a_xpad, a_ypad;            // A's window: columns / rows outside the image
  logic [K*LB_ADDR_BITS-1:0] a_xbase, a_ybase;  // ... their address parts
  logic signed [LC_BITS-1:0] a_lc;         // ... its last image column
  logic signed [DR_BITS-1:0] a_slim, a_dlr;  // ... its input limit, its last row minus the previous window's
  logic signed [DR_BITS-1:0] a_slim1, a_dlr1, a_sd, a_sd1;  // ... a_slim - 1, a_dlr - 1, a_slim + a_dlr (- 1)
  // ---- H: the head step (issued next) and its window ----
  logic h_valid, h_pad, h_first, h_last, h_seg, h_pix;
  logic [LB_ADDR_BITS-1:0] h_addr;
  logic [15:0] h_co;
  logic [STEP_BITS-1:0] h_step;
  logic signed [LC_BITS-1:0] h_lc;
  logic signed [DR_BITS-1:0] h_slim1;      // its input limit - 1
  logic signed [DR_BITS-1:0] d_row;        // row of the next input pixel minus the head window's last row
  logic d_pos, d_zero;                     // d_row > 0, d_row == 0
  logic [DR_BITS-1:0] d_row_n;             // ~d_row, for the d_row == -1 test alone: on d_row itself ABC
                                           // reads that test off d_row + 1's carry chain (an inverted copy:
                                           // Yosys would merge a plain one into d_row)
  logic room;                              // d_row < input limit: the next input pixel's slot is free (s_ready)
  logic arrived;                           // every input pixel of the head's window is in the buffer:
                                           // d_row > 0, or d_row == 0 and in_col > h_lc
  logic [COL_BITS-1:0] in_col;             // column of the next input pixel
  logic in_col_last;                       // in_col == W - 1
  // ---- input side ----
  logic writing, chunk_we;                 // chunked write of the accepted pixel: busy, a chunk now
  (* keep *) logic px_stored, row_stored;  // a pixel (its last chunk) is written now; the row's last pixel
  logic [CHUNK_BITS-1:0] wr_chunk;         // chunk being written
  logic wr_last;                           // wr_chunk == CHUNKS - 1
  logic [C*IB-1:0] held_px;                // the accepted pixel, held (load enable only) while written
  logic [CHUNK_W-1:0] held_chunk [CHUNKS]; // ... viewed as chunks: the write data is one array read
  logic [LB_ADDR_BITS-1:0] wr_addr;

  // ---- A's successor and the step it describes ----
  logic w_ci, new_seg;
  logic n_ci_last, n_kx_last, n_ky_last, n_co_last, n_pix, n_ox_last;  // A's flags after it advances
  logic [K_BITS-1:0] ks_new_m1, ks_m2;
  logic signed [DR_BITS-1:0] d_dlr, d_dlr1;
  logic [1:0] n_pos, n_zero;                          // d_pos, d_zero next, if issue is 0 / 1
  (* keep *) logic [1:0] n_room, n_arr;               // room, arrived next, if issue is 0 / 1
  logic signed [DR_BITS-1:0] n_drow [2];   // d_row next, if issue is 0 / 1
  logic [TXW-1:0] nxw, rxw;               // column words: the window A enters next; the first window
  logic [TYW-1:0] nyw, ryw;               // row words
  logic [TYW-1:0] nyw_now, nyw_q;         // ... the next window's: read now; read a cycle ago (ROWPIPE)
  logic [K*LB_ADDR_BITS-1:0] ny_base, first_ybase;  // row address parts of the next window, of the first
  logic [K*LB_ADDR_BITS-1:0] ny_base_now, ny_base_q, ny_base0;  // ... from nbslot and nyw_now; from nbslot_q
                                                                  // and nyw_q (ROWPIPE); after reset
  logic [SLOT_BITS-1:0] nbslot, nbslot_q;
  logic tap_pad;
  logic [LB_ADDR_BITS-1:0] tap_ybase, tap_xbase, tap_addr;
  always_comb begin
    w_ci = a_ci_last;            // the input chunk wraps (w_kx, w_ky, w_co: and the tap column, row, the
                                 // output chunk: the segment ends, the pixel in its last segment)
    new_seg = w_co ? (NSEG > 1 && !a_seg) : a_seg;  // A's segment after it advances
    ks_m2 = (NSEG > 1 && a_seg) ? K_BITS'(KS1 - 2) : K_BITS'(KS0 - 2);        // taps per side - 2, now
    ks_new_m1 = (NSEG > 1 && new_seg) ? K_BITS'(KS1 - 1) : K_BITS'(KS0 - 1);  // ... - 1, after A advances
    n_ci_last = w_ci ? IN_CHUNKS == 1 : a_ci == CI_BITS'(IN_CHUNKS - 2);
    n_kx_last = w_ci ? (a_kx_last ? ks_new_m1 == '0 : a_kx == ks_m2) : a_kx_last;
    n_ky_last = w_kx ? (a_ky_last ? ks_new_m1 == '0 : a_ky == ks_m2) : a_ky_last;
    n_co_last = !w_ky ? a_co_last
                      : a_co_last ? ((NSEG > 1 && !a_seg) ? NCO1 : NCO0) == 1
                                  : a_co == CO_BITS'(((NSEG > 1 && a_seg) ? NCO1 : NCO0) - 2);
    n_pix = a_pix ? NSTEP == 1 : a_step == STEP_BITS'(NSTEP - 2);
    n_ox_last = !a_pix ? a_ox_last : a_ox_last ? OW == 1 : a_ox == OX_BITS'(OW - 2);
    d_dlr = d_row - a_dlr;
    d_dlr1 = d_row - a_dlr1;
    // the tap: window row ky + OFF, column kx + OFF (one-hot selects of A's window values)
    tap_pad = 1'b0; tap_ybase = '0; tap_xbase = '0;
    for (int r = 0; r < K; r++) begin
      logic hy, hx;
      hy = (NSEG > 1 && a_seg) ? (r >= OFF1 && a_ky == K_BITS'(r - OFF1)) : (r >= OFF0 && a_ky == K_BITS'(r - OFF0));
      hx = (NSEG > 1 && a_seg) ? (r >= OFF1 && a_kx == K_BITS'(r - OFF1)) : (r >= OFF0 && a_kx == K_BITS'(r - OFF0));
      if (hy) begin tap_pad = tap_pad | a_ypad[r]; tap_ybase = tap_ybase | a_ybase[r * LB_ADDR_BITS +: LB_ADDR_BITS]; end
      if (hx) begin tap_pad = tap_pad | a_xpad[r]; tap_xbase = tap_xbase | a_xbase[r * LB_ADDR_BITS +: LB_ADDR_BITS]; end
    end
    tap_addr = tap_ybase + tap_xbase + (CHUNK_BY_CO ? LB_ADDR_BITS'(a_co) : LB_ADDR_BITS'(a_ci));
    // the next window's table entries (the first window's: the entries after the last ones)
    nbslot = a_oy_last ? a_bslot + SLOT_BITS'(H) : a_bslot;
    for (int r = 0; r < K; r++) begin
      ny_base_now[r * LB_ADDR_BITS +: LB_ADDR_BITS] = slot_base[SLOT_BITS'(nbslot + nyw_now[K + r * SLOT_BITS +: SLOT_BITS])];
      ny_base_q[r * LB_ADDR_BITS +: LB_ADDR_BITS] = slot_base[SLOT_BITS'(nbslot_q + nyw_q[K + r * SLOT_BITS +: SLOT_BITS])];
      ny_base0[r * LB_ADDR_BITS +: LB_ADDR_BITS] = slot_base[SLOT_BITS'(NBSLOT0 + ty_word[0][K + r * SLOT_BITS +: SLOT_BITS])];
      first_ybase[r * LB_ADDR_BITS +: LB_ADDR_BITS] = slot_base[ryw[K + r * SLOT_BITS +: SLOT_BITS]];
    end
  end
  assign nxw = tx_word[a_ox];
  assign nyw_now = ty_word[a_oy];
  generate
    if (ROWPIPE) begin : g_rowpipe
      logic [K*LB_ADDR_BITS-1:0] ny_base_r;
      always_ff @(posedge clk) begin  // from registers only, every cycle; the reset values are the first row's
        if (rst) begin
          nyw_q <= ty_word[0]; nbslot_q <= SLOT_BITS'(NBSLOT0); ny_base_r <= ny_base0;
        end else begin
          nyw_q <= nyw_now; nbslot_q <= nbslot; ny_base_r <= ny_base_q;
        end
      end
      assign nyw = nyw_q;
      assign ny_base = ny_base_r;
    end else begin : g_rowcomb
      assign nyw_q = '0;
      assign nbslot_q = '0;
      assign nyw = nyw_now;
      assign ny_base = ny_base_now;
    end
  endgenerate
  assign rxw = tx_word[OW - 1];
  assign ryw = ty_word[OH - 1];

  // ---- issue ----
  // issue: H's step goes out; take: H loads A's step and A advances (on an issue, and to fill H after
  // reset); go: the output register loads (no stall); t_*: take and A's wrap flags, the enables
  logic issue, take, go, accept, t_ci, t_kx, t_ky, t_co, t_pix, t_row;
  sqz_window_take #(.N(6)) enables (
      .h_valid, .arrived, .m_valid, .m_ready, .cond({a_pixrow, a_pix, w_co, w_ky, w_kx, w_ci}), .issue, .take, .go,
      .take_if({t_row, t_pix, t_co, t_ky, t_kx, t_ci}));
  assign s_ready = !rst && !writing && room;
  assign accept = s_valid && s_ready;
  // a pixel has arrived (counts for the window) once its last chunk is written
  assign chunk_we = (CHUNKS == 1) ? accept : writing;
  assign px_stored = (CHUNKS == 1) ? accept : (writing && wr_last);
  assign row_stored = px_stored && in_col_last;

  // next-cycle d_row and flags, from register-only candidates; computed for issue = 0 and 1 (kept
  // apart from the issue logic: the late issue then picks them with one gate). The equalities are
  // written as reductions, not ==: Yosys's alumacc would share them with the differences beside them,
  // putting a carry chain in front of the arrival flag.
  always_comb begin
    for (int iss = 0; iss < 2; iss++) begin
      logic tk, adv, colgt;
      logic signed [LC_BITS-1:0] lc;
      tk = (iss == 1) || !h_valid;   // take
      adv = (iss == 1) && h_pix;     // the head's window ends
      case ({adv, row_stored})
        2'b00: begin
          n_drow[iss] = d_row; n_pos[iss] = d_pos; n_zero[iss] = d_zero;
          n_room[iss] = tk ? d_row < a_slim : room;
        end
        2'b01: begin
          n_drow[iss] = d_row + 1'b1; n_pos[iss] = !d_row[DR_BITS-1]; n_zero[iss] = ~|d_row_n;
          n_room[iss] = d_row < (tk ? a_slim1 : h_slim1);
        end
        2'b10: begin
          n_drow[iss] = d_dlr; n_pos[iss] = d_row > a_dlr; n_zero[iss] = ~|(d_row ^ a_dlr);
          n_room[iss] = d_row < a_sd;
        end
        default: begin
          n_drow[iss] = d_dlr1; n_pos[iss] = d_row > a_dlr1; n_zero[iss] = ~|(d_row ^ a_dlr1);
          n_room[iss] = d_row < a_sd1;
        end
      endcase
      // in_col > h_lc next: in_col + 1 > lc is in_col >= lc; 0 > lc is lc < 0
      lc = tk ? a_lc : h_lc;
      colgt = px_stored ? (row_stored ? lc[LC_BITS-1] : $signed({1'b0, in_col}) >= lc) : $signed({1'b0, in_col}) > lc;
      n_arr[iss] = n_pos[iss] || (n_zero[iss] && colgt);
    end
  end

  // ---- line buffer (chunked) and payload ROM, read synchronously on issue at H's registered addresses ----
  always_comb
    for (int i = 0; i < CHUNKS; i++) held_chunk[i] = held_px[i * CHUNK_W +: CHUNK_W];
  sqz_ram #(.WIDTH(CHUNK_W), .DEPTH(LB_DEPTH), .STYLE(LBSTYLE)) lb (
      .clk, .we(chunk_we), .waddr(wr_addr),
      .wdata((CHUNKS == 1) ? s_data[CHUNK_W-1:0] : held_chunk[wr_chunk]),
      .re(issue), .raddr(h_addr), .rdata(m_data));
  generate
    if (PFILE != "") begin : g_rom
      sqz_rom #(.WIDTH(PW), .DEPTH(NSTEP), .FILE(PFILE), .STYLE(PSTYLE)) rom (
          .clk, .re(issue), .addr(h_step), .data(m_payload));
    end else begin : g_norom
      assign m_payload = '0;
    end
  endgenerate

  always_ff @(posedge clk) begin
    if (rst) begin
      wr_addr <= '0; writing <= 1'b0; wr_chunk <= '0; in_col <= '0; in_col_last <= W == 1;
      d_row <= -DR_BITS'(LR0); d_row_n <= ~(-DR_BITS'(LR0)); room <= -DR_BITS'(LR0) < $signed(ryw[TY_SLIM +: DR_BITS]);
      d_pos <= LR0 < 0; d_zero <= LR0 == 0; arrived <= LR0 < 0 || (LR0 == 0 && rxw[TXW-1]);
      h_lc <= rxw[TXW-1 -: LC_BITS]; h_slim1 <= ryw[TY_SLIM1 +: DR_BITS];
      h_valid <= 1'b0; m_valid <= 1'b0;
      a_ci <= '0; a_kx <= '0; a_ky <= '0; a_co <= '0; a_mco <= '0; a_seg <= 1'b0; a_step <= '0;
      a_ci_first <= 1'b1; a_ci_last <= IN_CHUNKS == 1; a_co_last <= NCO0 == 1; a_pix <= NSTEP == 1;
      a_kx_last <= KS0 == 1; a_ky_last <= KS0 == 1;
      w_kx <= IN_CHUNKS == 1 && KS0 == 1; w_ky <= IN_CHUNKS == 1 && KS0 == 1; w_co <= IN_CHUNKS == 1 && KS0 == 1 && NCO0 == 1;
      a_pixrow <= NSTEP == 1 && OW == 1;
      a_ox <= '0; a_oy <= '0; a_ox_last <= OW == 1; a_oy_last <= OH == 1; a_bslot <= '0;
      // the first window: the tables' entries after the last window
      a_xpad <= rxw[K-1:0]; a_xbase <= rxw[K +: K * LB_ADDR_BITS]; a_lc <= rxw[TXW-1 -: LC_BITS];
      a_ypad <= ryw[K-1:0]; a_ybase <= first_ybase; a_slim <= ryw[TY_SLIM +: DR_BITS];
      a_dlr <= '0; a_dlr1 <= -DR_BITS'(1); a_slim1 <= ryw[TY_SLIM1 +: DR_BITS];
      a_sd <= ryw[TY_SLIM +: DR_BITS]; a_sd1 <= ryw[TY_SLIM1 +: DR_BITS];
    end else begin
      // input side
      if (chunk_we) wr_addr <= (wr_addr == LB_ADDR_BITS'(LB_DEPTH - 1)) ? '0 : wr_addr + 1'b1;
      if (accept) held_px <= s_data;  // (unused, and removed by synthesis, when CHUNKS == 1)
      if (CHUNKS > 1) begin
        if (accept) begin
          writing <= 1'b1;
          wr_chunk <= '0;
          wr_last <= 1'b0;
        end else if (writing) begin
          wr_chunk <= wr_chunk + 1'b1;
          wr_last <= wr_chunk == CHUNK_BITS'(CHUNKS - 2);
          if (wr_last) writing <= 1'b0;
        end
      end
      if (px_stored) begin
        in_col <= row_stored ? '0 : in_col + 1'b1;
        in_col_last <= row_stored ? W == 1 : in_col == COL_BITS'(W - 2);
      end
      // + 1 per stored row, - a_dlr when the head's window ends: the sums from registers, the choice late
      d_row <= n_drow[issue];
      d_row_n <= ~n_drow[issue];
      room <= n_room[issue];
      d_pos <= n_pos[issue];
      d_zero <= n_zero[issue];
      arrived <= n_arr[issue];
      // output side
      if (go) begin
        m_valid <= issue;
        m_pad <= h_pad;
        m_co <= h_co;
        m_seg <= h_seg;
        m_first <= h_first;
        m_last <= h_last;
      end
      if (take) begin
        // H takes A's step
        h_valid <= 1'b1;
        h_addr <= tap_addr;
        h_pad <= tap_pad;
        h_first <= a_ci_first && a_kx == '0 && a_ky == '0;
        h_last <= a_ci_last && a_kx_last && a_ky_last;
        h_co <= 16'(a_mco);
        h_seg <= a_seg;
        h_step <= a_step;
        h_pix <= a_pix;
        h_lc <= a_lc;
        h_slim1 <= a_slim1;
        // A advances
        a_step <= a_pix ? '0 : a_step + 1'b1;
        a_ci <= w_ci ? '0 : a_ci + 1'b1;
        a_ci_first <= w_ci;
        a_ci_last <= n_ci_last;
        a_kx_last <= n_kx_last;
        a_ky_last <= n_ky_last;
        a_co_last <= n_co_last;
        a_pix <= n_pix;
        w_kx <= n_ci_last && n_kx_last;
        w_ky <= n_ci_last && n_kx_last && n_ky_last;
        w_co <= n_ci_last && n_kx_last && n_ky_last && n_co_last;
        a_pixrow <= n_pix && n_ox_last;
      end
      if (t_ci) a_kx <= a_kx_last ? '0 : a_kx + 1'b1;
      if (t_kx) a_ky <= a_ky_last ? '0 : a_ky + 1'b1;
      if (t_ky) begin
        a_co <= a_co_last ? '0 : a_co + 1'b1;
        a_mco <= a_pix ? '0 : a_mco + 1'b1;
      end
      if (t_co) a_seg <= (NSEG > 1) ? !a_seg : 1'b0;
      if (t_pix) begin  // A enters the next window
        a_ox <= a_ox_last ? '0 : a_ox + 1'b1;
        a_ox_last <= n_ox_last;
        a_xpad <= nxw[K-1:0]; a_xbase <= nxw[K +: K * LB_ADDR_BITS]; a_lc <= nxw[TXW-1 -: LC_BITS];
        a_dlr <= a_ox_last ? nyw[TY_DLR +: DR_BITS] : '0;
        a_dlr1 <= a_ox_last ? nyw[TY_DLR1 +: DR_BITS] : -DR_BITS'(1);
        a_sd <= a_ox_last ? nyw[TY_SD +: DR_BITS] : a_slim;
        a_sd1 <= a_ox_last ? nyw[TY_SD1 +: DR_BITS] : a_slim1;
      end
      if (t_row) begin  // ... in the next output row
        a_oy <= a_oy_last ? '0 : a_oy + 1'b1;
        a_oy_last <= a_oy_last ? OH == 1 : a_oy == OY_BITS'(OH - 2);
        a_bslot <= nbslot;
        a_ypad <= nyw[K-1:0]; a_ybase <= ny_base; a_slim <= nyw[TY_SLIM +: DR_BITS];
        a_slim1 <= nyw[TY_SLIM1 +: DR_BITS];
      end
    end
  end
endmodule

// The handshake enables of sqz_window, a module of its own: synthesis maps each output as one gate
// after m_ready (the late input, from the consumer's stall logic) instead of merging it into deeper
// logic of the window.
module sqz_window_take #(
    // conditions (each enable is take and one of them)
    parameter int N = 1
) (
    input  logic         h_valid,
    input  logic         arrived,
    input  logic         m_valid,
    input  logic         m_ready,
    input  logic [N-1:0] cond,
    output logic         issue,
    output logic         take,
    output logic         go,
    output logic [N-1:0] take_if
);
  assign go = !m_valid || m_ready;
  assign issue = h_valid && arrived && go;
  assign take = !h_valid || (arrived && go);
  assign take_if = {N{take}} & cond;
endmodule
