"""Delay model of Zynq UltraScale+ MPSoC programmable logic, speed grade -2 (VCCINT 0.85V), for `timing`.

The part we target, xczu9eg-ffvb1156-2-e (ZCU102), is speed grade -2 (sqzfpga/parts.py). Figures in ns,
named after the symbols of DS925 "Zynq UltraScale+ MPSoC Data Sheet: DC and AC Switching
Characteristics" where DS925 has one, else after the 7-series symbol that `timing`'s cell arcs read
(the same keys as DELAYS_Z7_1, so one set of arcs serves both families).

What DS925 gives (v1.29/v1.30, read through the `search` docs corpus, docs.amd.com/r/en-US/
ds925-zynq-ultrascale-plus): for the DSP48E2 only maximum frequencies (Table "DSP48 Slice Switching
Characteristics", -2 at 0.85V: FMAX 775 MHz with all registers, FMAX_MULT_NOMREG 544 MHz two-register
multiply without MREG, FMAX_NOPIPELINEREG 410 MHz without MREG/ADREG); UltraScale+ data sheets no longer
publish CLB delays (LUT, carry, flip-flop), and DS925's block RAM clock-to-out rows were not found in
the corpus. So:
- "DS925 FMAX" rows: derived from those DSP48E2 maximum frequencies (period = 1000 / FMAX), split into
  clock-to-out / internal / setup as noted per row (the split is an assumption, the sum is DS925's).
- "approx." rows: not in a data sheet at hand; the -2 figure as Vivado's UltraScale+ timing reports
  print it for the primitive (Prop_/Setup_ arcs), rounded up. For block RAM the nearest published rows
  are DS958's (Versal AI Edge, a later block RAM: TRCKO_DO 0.901 ns, TRCKO_DO_REG 0.262 ns at -2 0.80V),
  which ours exceed, as UltraScale+ block RAM is slower than Versal's.
Carry: Yosys 0.70's `synth_xilinx -family xcup` still maps adders to CARRY4 cells (Vivado would pack two
into a CARRY8); both read the per-bit CARRY rows below, a CARRY4 -> CARRY4 carry being a dedicated route.
Routing: ROUTE_NS per net hop to a load is an assumption (no data sheet figure), lower than the
7-series allowance as UltraScale+ interconnect is faster, and to be calibrated like it.
"""
from __future__ import annotations

SPEED_GRADE = -2
_DSP_ALL_REGS = 1000 / 775  # DS925 FMAX, -2: the slowest internal register-to-register stage, 1.290 ns
_DSP_MULT_NOMREG = 1000 / 544  # DS925 FMAX_MULT_NOMREG, -2: A/B register through the multiplier to PREG, 1.838 ns
_DSP_IN, _DSP_OUT = 0.20, 0.45  # approx.: fabric pin into the DSP's first stage / P out of the ALU to the pin

DELAYS_ZUP_2 = {
    # CLB (UltraScale+ SLICEL/SLICEM; no CLB table in DS925); all approx.
    "TILO": 0.10,       # LUT6 / LUTn input to O6/O5
    "TIF7": 0.09,       # MUXF7 data/select to output
    "TIF8": 0.09,       # MUXF8 data/select to output
    "TIF9": 0.10,       # MUXF9 data/select to output
    "TCKO": 0.10,       # FDRE/FDCE clock to Q
    "TDICK": 0.06,      # FF D setup
    "TCECK": 0.10,      # FF CE setup
    "TSRCK": 0.30,      # FF SR (set/reset) setup
    "TCINCO": 0.06,     # CARRY8 CIN to COUT (CO[7]), any bit
    "TCINO": 0.12,      # CARRY8 CIN to O[n]
    "TOPCYC": 0.20,     # CARRY8 S inputs to CO[n]
    "TDICYC": 0.18,     # CARRY8 DI inputs to CO[n]
    "TOPS": 0.18,       # CARRY8 S inputs to O[n]
    "TDIO": 0.18,       # CARRY8 DI inputs to O[n]
    # SLICEM LUT RAM (RAM32M16 / RAM64M8 / RAMnnX1D/S) and SRL; all approx.
    "TSHCKO": 1.00,     # LUT RAM / SRL clock to output (a write changes the read data)
    "TREG_A": 0.10,     # = TILO: asynchronous read through the address, a LUT delay
    "TDS": 0.30,        # LUT RAM / SRL data setup
    "TWS": 0.40,        # LUT RAM write enable / SRL CE setup
    "TAS": 0.40,        # LUT RAM write address setup
    # Block RAM RAMB36E2 / RAMB18E2; all approx. (DS958's Versal rows, see the docstring, as a floor)
    "TRCKO_DO": 1.30,   # clock to DOUT without output register (DOA_REG/DOB_REG = 0)
    "TRCKO_DO_REG": 0.40,  # clock to DOUT with output register
    "TRCCK_ADDR": 0.45,  # address setup
    "TRDCK_DI": 0.45,   # data input setup
    "TRCCK_WE": 0.55,   # write enable setup
    "TRCCK_EN": 0.45,   # enable / REGCE / reset setup
    # DSP48E2, multiplier in use; "DS925 FMAX" = derived from the -2 FMAX rows as written, else approx.
    "TDSPCKO_REG_REG": round(_DSP_ALL_REGS, 3),  # DS925 FMAX: AREG -> MREG -> PREG stage, 1.290
    "TDSPCKO_P_PREG": 0.55,  # approx.: clock to P from PREG
    "TDSPDCK_A_AREG": 0.25,  # approx.: A/B/D input setup to AREG/BREG/DREG
    "TDSPDCK_CTRL": 0.35,    # approx.: OPMODE/ALUMODE/CE/RST setup
    "TDSPDCK_A_MREG_MULT": round(_DSP_IN + _DSP_ALL_REGS, 3),  # DS925 FMAX + pin: A/B input to MREG, 1.490
    "TDSPDCK_A_PREG_MULT": round(_DSP_IN + _DSP_MULT_NOMREG, 3),  # DS925 FMAX + pin: A/B to PREG, 2.038
    "TDSPCKO_P_MREG": round(_DSP_ALL_REGS + _DSP_OUT, 3),  # DS925 FMAX + pin: MREG through the ALU to P, 1.740
    "TDSPCKO_P_AREG_MULT": round(_DSP_MULT_NOMREG + _DSP_OUT, 3),  # DS925 FMAX + pin: AREG to P, 2.288
    "TDSPDO_A_P_MULT": round(_DSP_IN + _DSP_MULT_NOMREG + _DSP_OUT, 3),  # DS925 FMAX + pins: A/B to P, 2.488
    "TDSPDCK_C_PREG": 0.95,  # approx.: C / PCIN input setup to PREG (the ALU)
    "TDSPDO_C_P": 1.20,      # approx.: C / PCIN to P, no PREG
    "TDSPDO_OPMODE_P": 1.40,  # approx.: OPMODE / ALUMODE / CARRYIN to P, no PREG
    # routing allowance per net hop (assumption, see the docstring)
    "ROUTE_NS": 0.35,
}
