"""Simulators and synthesis for the generated RTL: cocotb on Verilator, Yosys for resources."""
