"""Host-side driver of the accelerator (copied into the deployment package as `sqzfpga_driver`):
the DMA byte layout, the PYNQ overlay, and a C-simulation stand-in with the same interface.
Plain numpy; `pynq` is imported only on the board."""
