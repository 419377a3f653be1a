"""RTL backend: SystemVerilog dataflow generated from the same hls4ml ModelGraph as the HLS project."""
