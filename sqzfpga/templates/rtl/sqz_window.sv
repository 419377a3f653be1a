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
    // input image height in pixels (H + R + K < 32768: coordinates are 16-bit signed)
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
    $error("Error: image %0d x %0d too large: H + R + K and W + K must stay below 32768 (16-bit signed coordinates)",
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
  localparam int COL_BITS = (W > 1) ? $clog2(W) : 1;
  localparam int LB_DEPTH = R * W * CHUNKS;
  localparam int CHUNK_BITS = (CHUNKS > 1) ? $clog2(CHUNKS) : 1;
  localparam int LB_ADDR_BITS = $clog2(LB_DEPTH);
  localparam int STEP_BITS = (NSTEP > 1) ? $clog2(NSTEP) : 1;

  // ---- state ----
  logic signed [15:0] win_y, win_x;  // top-left input coordinate of the current output window
  logic [15:0] out_y, out_x;         // the current output pixel
  logic [SLOT_BITS-1:0] base_slot;   // buffer slot of row 0 of the current output frame
  logic signed [15:0] in_row;        // row of the next input pixel, relative to the current output frame
  logic signed [15:0] in_col;        // its column
  logic [15:0] ci, kx, ky, co;       // step counters: input chunk, tap column, tap row, output chunk
  logic seg;                         // segment of the current step
  logic [STEP_BITS-1:0] step;        // step within the output pixel (payload ROM address)

  // ---- issue stage ----
  logic signed [15:0] first_row, last_row, last_col;  // rows (and last column) of the image the window needs
  logic signed [15:0] tap_y, tap_x;  // input coordinate of the current tap
  logic signed [15:0] seg_k, seg_off;  // taps per side in this segment, and their offset in the K x K window
  logic win_arrived;                 // every input pixel of the window is in the buffer
  logic stall, issue, accept, pad, frame_done, pix_done;
  logic writing, chunk_we, px_stored;  // chunked write of the accepted pixel: busy, a chunk now, its last chunk
  logic [15:0] wr_chunk;             // chunk being written
  logic [C*IB-1:0] held_px;          // the accepted pixel, held (load enable only) while written
  logic [CHUNK_W-1:0] held_chunk [CHUNKS];  // ... viewed as chunks: the write data is one array read
  logic [LB_ADDR_BITS-1:0] wr_addr;
  always_comb begin
    last_row = win_y + 16'(K - 1);
    if (last_row > 16'(H - 1)) last_row = 16'(H - 1);
    last_col = win_x + 16'(K - 1);
    if (last_col > 16'(W - 1)) last_col = 16'(W - 1);
    first_row = (win_y < 0) ? 16'sd0 : win_y;
    win_arrived = (in_row > last_row) || (in_row == last_row && in_col > last_col);
    seg_k = (NSEG > 1 && seg) ? 16'(KS1) : 16'(KS0);
    seg_off = (16'(K) - seg_k) >>> 1;
    tap_y = win_y + $signed(ky) + seg_off;
    tap_x = win_x + $signed(kx) + seg_off;
    pad = tap_y < 0 || tap_y >= 16'(H) || tap_x < 0 || tap_x >= 16'(W);
  end
  assign stall = m_valid && !m_ready;
  assign issue = win_arrived && !stall;
  assign s_ready = !rst && !writing && (in_row < first_row + 16'(R));
  assign accept = s_valid && s_ready;
  // a pixel has arrived (counts for the window) once its last chunk is written
  assign chunk_we = (CHUNKS == 1) ? accept : writing;
  assign px_stored = (CHUNKS == 1) ? accept : (writing && wr_chunk == 16'(CHUNKS - 1));
  assign pix_done = (ci == 16'(IN_CHUNKS - 1)) && (kx == seg_k - 1) && (ky == seg_k - 1) &&
                    (co == ((NSEG > 1 && seg) ? 16'(NCO1 - 1) : 16'(NCO0 - 1))) && (NSEG == 1 || seg);
  assign frame_done = issue && pix_done && out_x == 16'(OW - 1) && out_y == 16'(OH - 1);

  // ---- line buffer (chunked) and payload ROM, read synchronously on issue ----
  // addresses: (slot * W + column) * CHUNKS + chunk; the write side is a pointer (pixels arrive in
  // ring order), the read side adds constant tables (no multipliers)
  always_comb
    for (int i = 0; i < CHUNKS; i++) held_chunk[i] = held_px[i * CHUNK_W +: CHUNK_W];
  logic [SLOT_BITS-1:0] rd_slot;
  logic [LB_ADDR_BITS-1:0] slot_base [R];
  logic [LB_ADDR_BITS-1:0] col_base [W];
  genvar gi;
  generate
    for (gi = 0; gi < R; gi++) begin : g_slot
      assign slot_base[gi] = LB_ADDR_BITS'(gi * W * CHUNKS);
    end
    for (gi = 0; gi < W; gi++) begin : g_col
      assign col_base[gi] = LB_ADDR_BITS'(gi * CHUNKS);
    end
  endgenerate
  logic [15:0] rd_chunk;
  logic signed [15:0] rd_col;
  assign rd_chunk = CHUNK_BY_CO ? co : ci;
  assign rd_col = (tap_x < 0 || tap_x >= 16'(W)) ? 16'sd0 : tap_x;  // padded taps read anything
  assign rd_slot = base_slot + SLOT_BITS'(tap_y);
  sqz_ram #(.WIDTH(CHUNK_W), .DEPTH(LB_DEPTH), .STYLE(LBSTYLE)) lb (
      .clk, .we(chunk_we), .waddr(wr_addr),
      .wdata((CHUNKS == 1) ? s_data[CHUNK_W-1:0] : held_chunk[CHUNK_BITS'(wr_chunk)]),
      .re(issue), .raddr(slot_base[rd_slot] + col_base[COL_BITS'(rd_col)] + LB_ADDR_BITS'(rd_chunk)),
      .rdata(m_data));
  generate
    if (PFILE != "") begin : g_rom
      sqz_rom #(.WIDTH(PW), .DEPTH(NSTEP), .FILE(PFILE), .STYLE(PSTYLE)) rom (
          .clk, .re(issue), .addr(step), .data(m_payload));
    end else begin : g_norom
      assign m_payload = '0;
    end
  endgenerate

  always_ff @(posedge clk) begin
    if (rst) begin
      win_y <= -16'(PT); win_x <= -16'(PL); out_y <= '0; out_x <= '0; base_slot <= '0; in_row <= '0; in_col <= '0;
      wr_addr <= '0; writing <= 1'b0; wr_chunk <= '0;
      ci <= '0; kx <= '0; ky <= '0; co <= '0; seg <= 1'b0; step <= '0; m_valid <= 1'b0;
    end else begin
      // input side
      if (chunk_we) wr_addr <= (wr_addr == LB_ADDR_BITS'(LB_DEPTH - 1)) ? '0 : wr_addr + 1'b1;
      if (accept) held_px <= s_data;  // (unused, and removed by synthesis, when CHUNKS == 1)
      if (CHUNKS > 1) begin
        if (accept) begin
          writing <= 1'b1;
          wr_chunk <= '0;
        end else if (writing) begin
          wr_chunk <= wr_chunk + 1'b1;
          if (wr_chunk == 16'(CHUNKS - 1)) writing <= 1'b0;
        end
      end
      if (px_stored) in_col <= (in_col == 16'(W - 1)) ? 16'sd0 : in_col + 16'sd1;
      in_row <= in_row + ((px_stored && in_col == 16'(W - 1)) ? 16'sd1 : 16'sd0) - (frame_done ? 16'(H) : 16'sd0);
      if (frame_done) base_slot <= base_slot + SLOT_BITS'(H);
      // output side
      if (!stall) begin
        m_valid <= issue;
        m_pad <= pad;
        m_co <= (NSEG > 1 && seg) ? co + 16'(NCO0) : co;
        m_seg <= seg;
        m_first <= ci == 0 && kx == 0 && ky == 0;
        m_last <= ci == 16'(IN_CHUNKS - 1) && kx == seg_k - 1 && ky == seg_k - 1;
      end
      if (issue) begin
        step <= pix_done ? '0 : step + 1'b1;
        if (ci != 16'(IN_CHUNKS - 1)) ci <= ci + 1'b1;
        else begin
          ci <= '0;
          if (kx != seg_k - 1) kx <= kx + 1'b1;
          else begin
            kx <= '0;
            if (ky != seg_k - 1) ky <= ky + 1'b1;
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
          if (out_x != 16'(OW - 1)) begin
            out_x <= out_x + 1'b1; win_x <= win_x + 16'(S);
          end else begin
            out_x <= '0; win_x <= -16'(PL);
            if (out_y != 16'(OH - 1)) begin
              out_y <= out_y + 1'b1; win_y <= win_y + 16'(S);
            end else begin
              out_y <= '0; win_y <= -16'(PT);
            end
          end
        end
      end
    end
  end
endmodule
