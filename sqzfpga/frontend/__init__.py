"""QONNX -> the lowered graph of hardware layers (parse, fuse Fire modules, emit), backend-neutral."""
