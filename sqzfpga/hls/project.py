"""The HLS project around hls4ml's writer output: our testbench and vectors, report, synthesis hand-off."""
from __future__ import annotations

import subprocess
from pathlib import Path

import numpy as np

from sqzfpga import vendor
from sqzfpga.hls.csim import to_stream
from sqzfpga.jinja import render

PROJECT = "sqznet"
AXIS_TOP = f"{PROJECT}_axis"  # the DMA-facing top: what `export_ip.tcl` packages as IP
CSIM_RESULTS = "tb_data/csim_results.log"  # the testbench's outputs, one line per image, as hls4ml's testbench writes


def _fmt(values: np.ndarray) -> str:
    # dyadic values print exactly with enough digits; %.17g round-trips any double
    return " ".join(f"{v:.17g}" for v in values)


def write_testbench(prj: Path, images: np.ndarray, expected: np.ndarray, golden: dict) -> None:
    """Replace hls4ml's testbench by one that checks every output value against the reference."""
    last = golden[list(golden)[-1]]
    n, c, h, w = images.shape
    oh, ow, oc = last["shape"]
    (prj / "tb_data").mkdir(exist_ok=True)
    (prj / "tb_data" / "inputs.dat").write_text("\n".join(_fmt(r) for r in to_stream(images)) + "\n")
    (prj / "tb_data" / "expected.dat").write_text("\n".join(_fmt(r) for r in expected.reshape(n, -1)) + "\n")
    (prj / f"{PROJECT}_test.cpp").write_text(render(
        "testbench.cpp.jinja", project=PROJECT, in_pixels=h * w, in_chan=c, out_pixels=oh * ow, out_chan=oc) + "\n")


def compiled_library(hm) -> Path:
    """The firmware as hls4ml's compile (build_lib.sh, run by the C simulation) left it:
    firmware/<project>-<stamp>.so. Its weights path is the folder it was compiled in (the build's
    temporary folder), so it serves only the build that compiled it."""
    cfg = hm.config
    return Path(cfg.get_output_dir()) / "firmware" / f"{cfg.get_project_name()}-{cfg.get_config_value('Stamp')}.so"


def run_testbench(prj: Path, library: Path | None = None, timeout: int = 1800) -> str:
    """Compile the project's testbench with g++ and run it in `prj`, as vitis_hls csim does (it reads and
    writes tb_data/, CSIM_RESULTS included); its last line. Without `library` the firmware is compiled
    with it, as Vitis compiles it; with one (the firmware hls4ml's compile already built) the testbench
    is linked with that, so that the build compiles the firmware once."""
    exe = prj / "csim_tb"
    sources = [str(prj / f"{PROJECT}_test.cpp")]
    sources += [str(Path(library).resolve())] if library else [str(prj / "firmware" / f"{PROJECT}.cpp")]
    cmd = ["g++", "-O2", "-std=c++14", f"-I{prj / 'firmware' / 'ap_types'}", f"-I{prj}", f"-I{prj / 'firmware'}",
           f'-DWEIGHTS_DIR="{prj / "firmware" / "weights"}"', *sources, "-o", str(exe)]
    c = subprocess.run(cmd, capture_output=True, text=True, timeout=timeout)
    if c.returncode != 0:
        raise RuntimeError(f"testbench did not compile: {c.stderr.strip()[-500:]}")
    try:
        r = subprocess.run([str(exe)], cwd=prj, capture_output=True, text=True, timeout=timeout)
    finally:
        exe.unlink(missing_ok=True)
    if r.returncode != 0:
        raise RuntimeError(f"testbench failed: {(r.stdout + r.stderr).strip()[-500:]}")
    return r.stdout.strip().splitlines()[-1]


# hls4ml's build_prj.tcl options (the order of hls4ml's VitisBackend.build): C simulation with our exact
# testbench, C synthesis, IP export. No cosimulation (our own RTL is the one simulated cycle-accurately)
# and so no validation: that compares tb_data/csim_results.log with the rtl_cosim_results.log a cosimulation
# writes (our testbench writes both, as hls4ml's does), and build_prj.tcl exits 1 when one is missing.
BUILD_OPTIONS = (("reset", 1), ("csim", 1), ("synth", 1), ("cosim", 0), ("validation", 0), ("export", 1),
                 ("vsynth", 0), ("fifo_opt", 0))
EXPORTED_IP = f"{PROJECT}_prj/solution1/impl/ip/component.xml"  # export_design -format ip_catalog


def write_build_options(prj: Path, backend: str) -> list[str]:
    """Set hls4ml's build options for `build_prj.tcl` as hls4ml itself does, and return the command
    that runs it: Vitis reads them from build_opt.tcl (`vitis-run --mode hls --tcl build_prj.tcl`);
    the Vivado backend's build_prj.tcl parses `key=value` arguments (`vivado_hls -f build_prj.tcl "..."`)."""
    if backend == "Vivado":  # one argument, as hls4ml passes it: the script's regexp finds `synth=` before `vsynth=`
        return ["vivado_hls", "-f", "build_prj.tcl", " ".join(f"{k}={v}" for k, v in BUILD_OPTIONS)]
    (prj / "build_opt.tcl").write_text("array set opt {\n" + "".join(f"    {k:<10} {v}\n" for k, v in BUILD_OPTIONS)
                                       + "}\n")
    return vendor.hls_argv("build_prj.tcl")


def write_axis_top(prj: Path, layout, in_bits: int) -> None:
    """The DMA-facing top (the byte layout of driver/layout.py around the dataflow), its C-simulation
    stand-in program, and the Vitis HLS script that exports it as IP."""
    common = dict(project=PROJECT, top=AXIS_TOP, channels=layout.channels, pixels=layout.height * layout.width,
                  in_bits=in_bits, out_channels=layout.out_words, out_pixels=1, out_bits=layout.out_bits,
                  out_signed=layout.out_signed, in_bytes=layout.in_bytes, out_words=layout.out_words,
                  stream_bits=layout.stream_bits, beats=layout.in_beats)
    (prj / "firmware" / f"{AXIS_TOP}.cpp").write_text(render("axis_top.cpp.jinja", **common) + "\n")
    (prj / "firmware" / f"{AXIS_TOP}.h").write_text(render("axis_top.h.jinja", **common) + "\n")
    (prj / f"{AXIS_TOP}_standin.cpp").write_text(render("dma_standin.cpp.jinja", **common) + "\n")

