// The input adapter for wide input beats (driver/layout.py): NB bytes per beat, little-endian (byte 0 in
// bits 7:0), one byte per input value, a frame of FRAME bytes padded to whole beats -> one pixel of C
// values (the low IB bits of each byte, channel 0 lowest) per cycle. The 8-bit stream's adapter is
// sqz_bytes_to_pixels (sqz_stream.sv); this one is copied into a build only when its beats are wider.
// A byte buffer holds up to NB + 2C - 1 bytes: a pixel leaves whenever C bytes are there, and a beat
// enters whenever at most 2C - 1 are (a registered test, so s_ready never waits on m_ready); with
// NB >= C that keeps one pixel per cycle flowing. The padding bytes of a frame's last beat are not
// stored. The frame's last beat carries its TLAST into the flag FIFO for the output adapter, as the
// 8-bit adapter's last byte does.
module sqz_beats_to_pixels #(
    // channels per pixel, one byte each (1..64)
    parameter int C = 1,
    // bits per channel, the low bits of its byte (1..8)
    parameter int IB = 8,
    // bytes per frame (unpadded): pixels per frame times C
    parameter int FRAME = 1,
    // bytes per beat (2..128)
    parameter int NB = 8,
    // batch-end flags that may wait for the output adapter (>= 1)
    parameter int FLAGS = 2
) (
    input  logic            clk, rst,
    input  logic            s_valid, output logic s_ready, input logic [8*NB-1:0] s_data, input logic s_last,
    output logic            m_valid, input logic m_ready, output logic [C*IB-1:0] m_data,
    output logic            f_valid, input logic f_ready, output logic f_last
);
  if (C < 1 || C > 64 || IB < 1 || IB > 8 || NB < 2 || NB > 128) begin : g_check1
    $error("Error: C (%0d) must be in 1..64, IB (%0d) in 1..8 and NB (%0d) in 2..128", C, IB, NB);
  end
  if (FRAME < 1 || FRAME % C != 0) begin : g_check2
    $error("Error: FRAME (%0d) must be a positive multiple of C (%0d): a frame is whole pixels", FRAME, C);
  end
  if (FLAGS < 1) begin : g_check3
    $error("Error: FLAGS (%0d) must be at least 1", FLAGS);
  end

  localparam int BEATS = (FRAME + NB - 1) / NB;         // beats per frame
  localparam int REM = FRAME - (BEATS - 1) * NB;        // data bytes in a frame's last beat
  localparam int CAP = NB + 2 * C - 1;                  // bytes the buffer holds at most
  localparam int CB = $clog2(CAP + 1);
  localparam int BB = (BEATS > 1) ? $clog2(BEATS) : 1;
  logic [CAP*IB-1:0] held, next_held;   // byte j of the buffer in bits [j*IB +: IB], the oldest at 0
  logic [CB-1:0] count, base, k;        // bytes held; where this cycle's beat goes
  logic [BB-1:0] beat;                  // position of the next beat in its frame
  logic frame_end, room, flag_ready, take, put;
  assign m_valid = count >= CB'(C);
  assign m_data = held[C*IB-1:0];
  assign room = count <= CB'(2 * C - 1);
  assign s_ready = room && (!frame_end || flag_ready);
  assign take = m_valid && m_ready;
  assign put = s_valid && s_ready;
  sqz_fifo #(.WIDTH(1), .DEPTH(FLAGS)) flags (
      .clk, .rst, .s_valid(s_valid && frame_end && room), .s_ready(flag_ready), .s_data(s_last),
      .m_valid(f_valid), .m_ready(f_ready), .m_data(f_last));
  always_comb begin
    base = take ? count - CB'(C) : count;
    next_held = take ? held >> (C * IB) : held;
    k = '0;
    for (int j = 0; j < CAP; j++) begin
      k = CB'(j) - base;
      if (put && CB'(j) >= base && k < CB'(NB)) next_held[j*IB +: IB] = s_data[k*8 +: IB];
    end
  end
  always_ff @(posedge clk) begin
    held <= next_held;
    if (rst) begin
      count <= '0;
      beat <= '0;
      frame_end <= BEATS == 1;
    end else begin
      count <= base + (put ? (frame_end ? CB'(REM) : CB'(NB)) : '0);
      if (put) begin
        beat <= frame_end ? '0 : beat + 1'b1;
        frame_end <= frame_end ? BEATS == 1 : beat == BB'(BEATS - 2);
      end
    end
  end
endmodule
