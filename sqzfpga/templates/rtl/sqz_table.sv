// Input table: each byte of an input pixel -> the input quantizer's integer, one ROM per channel.
// The DMA carries bytes; the model's input Quant node receives (byte * scale - mean_c) / std_c, which
// over 256 bytes is a table per channel (sqzfpga/frontend/preprocess.py computes it with the reference
// executor's Quant: round half to even, saturate). One pixel per cycle: all C channels are looked up
// at once into the output register (a synchronous read: the ROM is block RAM, two channels per BRAM18;
// Yosys 0.70's ABC9 aborts on a 256-word ROM in LUT logic).
module sqz_table #(
    // channels per pixel (1..256)
    parameter int C = 1,
    // bits per output channel, the input quantizer's width (1..32)
    parameter int OB = 8,
    // $readmemh file of C*256 words of OB bits: word c*256 + b is channel c's integer for byte b
    // ("": not initialised)
    parameter TFILE = ""
) (
    input  logic            clk,
    input  logic            rst,
    input  logic            s_valid,
    output logic            s_ready,
    input  logic [C*8-1:0]  s_data,
    output logic            m_valid,
    input  logic            m_ready,
    output logic [C*OB-1:0] m_data
);
  // parameter checks at elaboration: Verilator (lint, simulation) and Yosys stop on a failed one
  if (C < 1 || C > 256 || OB < 1 || OB > 32) begin : g_check
    $error("Error: C (%0d) must be in 1..256 and OB (%0d) in 1..32", C, OB);
  end

  (* rom_style = "block" *) logic [OB-1:0] rom [C*256];
  generate
    if (TFILE != "") begin : g_init
      initial $readmemh(TFILE, rom);
    end
  endgenerate

  // a one-beat pipeline register: take a pixel when the output is empty or being taken
  assign s_ready = !m_valid || m_ready;
  always_ff @(posedge clk) begin
    if (rst) begin
      m_valid <= 1'b0;
    end else if (s_ready) begin
      m_valid <= s_valid;
      if (s_valid) begin
        for (int c = 0; c < C; c++) begin
          m_data[c * OB +: OB] <= rom[c * 256 + int'(s_data[c * 8 +: 8])];
        end
      end
    end
  end
endmodule
