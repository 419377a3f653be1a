"""`build`: the accelerator build as an ordered list of named steps over typed data (FINN style).

A `BuildRequest` is what the user asked for; a `BuildState` is what the steps produce and read.
`build(request)` runs the steps from `request.start_step` to `request.stop_step` into a temporary
folder beside the target, swapped in only when every step has succeeded, so a failed or
interrupted build never replaces (or imitates) a good one. A range that starts after `export`
continues an existing build folder: what earlier steps produced is loaded from its files
(build.json, model.onnx, canonical.onnx, samples.npz, rtl/rtl.json) when a step first asks for it.
The `rtl`, `rtlsim` and `synth` commands are one-step ranges over a build folder (`rerun`), `plan`
plans the folder's graph; there is one graph builder (`graph`).
"""
from __future__ import annotations

import dataclasses
import json
import math
import shlex
import shutil
import tempfile
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any, Callable

from sqzfpga.atomic import swap_in
from sqzfpga.driver.layout import STREAM_BITS
from sqzfpga.errors import UserError
from sqzfpga.parts import Part, get_part
from sqzfpga.vendor import ToolFailed

if TYPE_CHECKING:
    import numpy as np
    import onnx

    from sqzfpga.deploy.boards import Board
    from sqzfpga.ir.types import QType
    from sqzfpga.model.preprocess import Preprocess

BACKENDS = ("Vitis", "Vivado")  # hls4ml backends
ACCELS = ("rtl", "hls")  # which accelerator goes into the block design
REFOLDS = 3  # re-plans with a smaller budget when the HLS design does not fit where the RTL plan does
DEFAULT_STOP = "report"  # the last step of a plain `build`; rtlsim and synth run on request


def check_clock(clock_mhz: float) -> None:
    """The fabric clock goes into Tcl and the HLS clock period: a finite, positive number of MHz."""
    if not (math.isfinite(clock_mhz) and 0 < clock_mhz <= 1000):
        raise UserError(f"--clock-mhz {clock_mhz:g}: expected a positive clock in MHz, at most 1000 (e.g. 100)")


@dataclass(frozen=True)
class BuildRequest:
    """What the user asked for; checked on construction (a bad value is one UserError)."""
    model: Path  # quantized checkpoint (.pt) or QONNX model (.onnx)
    part: str  # a name from parts.PARTS
    out: Path  # the build folder
    images: int = 200  # verification images for the C simulation
    data: Path | None = None  # dataset folder the verification images come from
    backend: str = "Vitis"
    csim: bool = True
    max_cycles: int | None = None  # cycles-per-frame target of the RTL planner (None: as fast as the part allows)
    stream_bits: int | None = None  # the DMA input stream's TDATA width (None: the RTL planner's choice)
    board: str | None = None  # a name from deploy.boards.BOARDS: write the deployment package for it
    accel: str = "rtl"
    bitstream: bool = False  # run Vivado where it is installed
    clock_mhz: float = 100.0
    command: str | None = None  # the command line, for the report's "Reproduce"
    start_step: str = "export"
    stop_step: str = DEFAULT_STOP
    rtlsim_images: int = 20  # images the rtlsim step simulates
    rtlsim_clock_mhz: float | None = None  # the clock rtlsim quotes frames/s at (None: clock_mhz)
    progress: bool = False  # progress bars (on a terminal)
    preprocess: Preprocess | None = None  # --input-scale/--mean/--std: stored into model.onnx by the export step

    def __post_init__(self):
        object.__setattr__(self, "model", Path(self.model))
        object.__setattr__(self, "out", Path(self.out).resolve())
        part = get_part(self.part)
        if self.board is not None:
            from sqzfpga.deploy.boards import get_board

            get_board(self.board, part.name)
            if not self.csim:
                raise UserError("--board with --no-csim: the deployment package carries the C simulation's outputs "
                                "to validate the board against; drop --no-csim")
        elif self.bitstream:
            raise UserError("--bitstream needs --board (the block design is per board); add --board BOARD")
        if self.images < 1:
            raise UserError(f"--images {self.images}: expected a positive number of verification images")
        if self.rtlsim_images < 1:
            raise UserError(f"--images {self.rtlsim_images}: expected a positive number")
        if self.backend not in BACKENDS:
            raise UserError(f"--backend {self.backend}: expected one of {', '.join(BACKENDS)}")
        if self.accel not in ACCELS:
            raise UserError(f"--accel {self.accel}: expected one of {', '.join(ACCELS)}")
        check_clock(self.clock_mhz)
        if self.rtlsim_clock_mhz is not None:
            check_clock(self.rtlsim_clock_mhz)
        if self.max_cycles is not None and self.max_cycles < 1:
            raise UserError(f"max_cycles {self.max_cycles}: expected a positive number of cycles per frame")
        if self.stream_bits is not None and self.stream_bits not in STREAM_BITS:
            raise UserError(f"--stream-bits {self.stream_bits}: not an input stream width; expected one of "
                            f"{', '.join(map(str, STREAM_BITS))} (or leave it out for the planner's choice)")
        for option, name in (("--start-step", self.start_step), ("--stop-step", self.stop_step)):
            if name not in STEP_NAMES:
                raise UserError(f"{option} {name}: not a build step; expected one of {', '.join(STEP_NAMES)}")
        if self.preprocess is not None and self.start_step != "export":
            raise UserError(f"--input-scale/--mean/--std with --start-step {self.start_step}: the preprocessing is "
                            "stored into model.onnx by the export step; run the build from the export step")
        if STEP_NAMES.index(self.start_step) > STEP_NAMES.index(self.stop_step):
            raise UserError(f"--start-step {self.start_step} comes after --stop-step {self.stop_step}; the steps "
                            f"run in this order: {', '.join(STEP_NAMES)}")

    def steps(self) -> list[str]:
        """The steps of the range, less those the request leaves out (csim with --no-csim, deploy
        without --board)."""
        names = STEP_NAMES[STEP_NAMES.index(self.start_step):STEP_NAMES.index(self.stop_step) + 1]
        return [n for n in names if (self.csim or n != "csim") and (self.board is not None or n != "deploy")]


@dataclass
class BuildState:
    """What the steps produce and read; None where no step has produced it yet (`load_*` then reads
    it from the build folder's files)."""
    request: BuildRequest
    dir: Path  # where the steps write: a build's temporary folder (swapped in as request.out), a re-run's out
    part: Part
    board: Board | None
    log: Callable[[str], None] = print
    previous: dict = field(default_factory=dict)  # build.json of the folder a range continues
    onnx: onnx.ModelProto | None = None  # the QONNX model (model.onnx)
    torch_model: Any = None  # the checkpoint's model (None for a QONNX input)
    meta: dict | None = None  # the checkpoint's metadata ({} for a QONNX input)
    canon: onnx.ModelProto | None = None  # the canonical streaming graph (canonical.onnx)
    in_q: QType | None = None  # its input type
    golden: dict | None = None  # canonical layer -> QONNX tensor, for per-layer comparisons
    images: np.ndarray | None = None  # verification images (samples.npz) and their labels
    labels: np.ndarray | None = None
    images_source: str | None = None
    expected: np.ndarray | None = None  # the QONNX reference's outputs on `images`
    graph: Any = None  # the hls4ml ModelGraph (folded)
    budget: object = None  # the planner's budget both backends are folded for (rtl.plan.Budget)
    rows: list[dict] | None = None  # hls.fit's per-layer estimate of the graph
    fit: dict | None = None  # hls.fit's totals against the part
    rtl: dict | None = None  # rtl/rtl.json
    rtl_error: str | None = None  # why the RTL backend failed, when an --accel hls build went on without rtl/
    csim: dict | None = None  # C-simulation result
    next_steps: list[str] = field(default_factory=list)  # what to run next (project, then deploy)
    vivado_missing: str | None = None  # --bitstream without Vivado: the error raised once the folder is written
    rtlsim: dict | None = None  # rtlsim.json
    synth: dict | None = None  # rtl/synth.json
    timing: dict | None = None  # rtl/timing.json (the synth step's timing estimate)
    timings: dict[str, float] = field(default_factory=dict)


# ---- what earlier steps produced, from the build folder's files ---------------------------------------
def _file(s: BuildState, name: str, step: str) -> Path:
    path = s.dir / name
    if not path.exists():
        raise UserError(f"build folder {s.request.out}: has no {name} (written by the {step} step); run the build "
                        f"from an earlier step (--start-step {step})")
    return path


def load_onnx(s: BuildState):
    if s.onnx is None:
        from sqzfpga.model import reference

        s.onnx = reference.load(_file(s, "model.onnx", "export"))
    return s.onnx


def load_checkpoint(s: BuildState) -> dict:
    """The checkpoint's model and metadata (for the PyTorch accuracy); {} for a QONNX input."""
    if s.meta is None:
        s.meta = {}
        if s.request.model.suffix != ".onnx":
            from sqzfpga.model import checkpoint

            s.torch_model, ckpt = checkpoint.load_model(s.request.model)
            s.meta = ckpt.get("meta", {})
    return s.meta


def load_canonical(s: BuildState):
    """The canonical graph and its input type (canonical.onnx records it on its first node)."""
    if s.canon is None:
        import onnx

        from sqzfpga.ir.types import QType

        s.canon = onnx.load(str(_file(s, "canonical.onnx", "lower")))
        first = next(iter(s.canon.graph.node))
        s.in_q = QType.of(next(onnx.helper.get_attribute_value(a) for a in first.attribute if a.name == "in_q"))
    return s.canon, s.in_q


def load_golden(s: BuildState) -> dict:
    if s.golden is None:
        from sqzfpga.layers import lower

        _, s.golden, _ = lower(load_onnx(s))
    return s.golden


def load_samples(s: BuildState):
    if s.images is None:
        import numpy as np

        d = np.load(_file(s, "samples.npz", "samples"))
        s.images, s.labels = d["images"], d["labels"] if "labels" in d else None
        s.images_source = s.previous.get("images_source")
    return s.images


def load_expected(s: BuildState):
    if s.expected is None:
        from sqzfpga.model import reference

        s.expected = reference.run(load_onnx(s), load_samples(s))
    return s.expected


def graph(s: BuildState, write: bool = False):
    """The hls4ml ModelGraph of the canonical graph, folded by the planner (as the RTL), with the fit
    estimate; its project folder is the build's hls/, written only when `write`. The one graph
    builder: the hls step, the RTL re-runs and `plan` all take the graph from here."""
    if s.graph is None or write:
        from sqzfpga.hls import fit
        from sqzfpga.hls.convert import convert_folded
        from sqzfpga.rtl.plan import budget

        canon, in_q = load_canonical(s)
        bud = budget(s.part)
        for _ in range(REFOLDS + 1):  # the RTL plan, re-planned with less where the HLS design needs more
            s.graph = convert_folded(canon, in_q, s.dir / "hls", s.part.device, bud, s.request.backend,
                                     clock_period=round(1000 / s.request.clock_mhz, 3),  # the build's clock
                                     max_cycles=s.request.max_cycles)
            s.rows = fit.estimate(s.graph)
            s.fit = fit.check(s.rows, s.part)
            if s.fit["fits"]:
                break
            bud = fit.shrink(bud, s.fit, s.part)
        s.budget = bud
        if write:
            fit.refuse(s.rows, s.fit, s.part)
            s.graph.write()
    return s.graph


def load_rtl(s: BuildState) -> dict:
    if s.rtl is None:
        s.rtl = json.loads(_file(s, "rtl/rtl.json", "rtl").read_text())
    return s.rtl


def stream_interface(s: BuildState) -> tuple[dict, int]:
    """Both accelerators' DMA byte layout (driver/layout.py, as a dict) and input width: the graph's.
    rtl/rtl.json records them, and is read where it exists (a continued range then builds no graph);
    an --accel hls build whose RTL backend failed takes them from the graph."""
    m = _rtl_so_far(s)
    if m is not None:
        return m["layout"], m["input"]["bits"]
    from sqzfpga.rtl.generate import first_input, layout_of

    hm = graph(s)
    return layout_of(hm).to_dict(), first_input(hm)[1].bits


# ---- the steps ---------------------------------------------------------------------------------------
def step_export(s: BuildState) -> None:
    """Checkpoint -> QONNX (a given .onnx is checked and copied); a stated preprocessing goes into its metadata."""
    from sqzfpga.model import preprocess, reference

    path = s.request.model
    if path.suffix == ".onnx":
        reference.load(path)
        shutil.copy(path, s.dir / "model.onnx")
        s.meta = {}
    else:
        from sqzfpga.model.export import export

        preprocess.for_checkpoint(s.request.preprocess, f"checkpoint {path}")
        load_checkpoint(s)
        if not s.torch_model.quantized:
            raise UserError(f"checkpoint {path}: is a float model; quantize it first (`python -m sqzfpga train "
                            "--init CKPT --quantize ...`)")
        export(s.torch_model, s.dir / "model.onnx")
    if s.request.preprocess is not None:  # stated once, read by every reader of model.onnx
        import onnx

        model = onnx.load(str(s.dir / "model.onnx"))
        preprocess.store(model, preprocess.resolve(model, s.request.preprocess, f"model {path}"))
        onnx.save(model, str(s.dir / "model.onnx"))


def step_lower(s: BuildState) -> None:
    """QONNX -> canonical streaming graph (Fire modules fused; unsupported ops refused here)."""
    import onnx

    from sqzfpga.layers import lower
    from sqzfpga.model import reference

    s.onnx = reference.load(s.dir / "model.onnx")
    s.canon, s.golden, low = lower(s.onnx)
    s.in_q = low.input.q
    if low.ops[0]["kind"] == "table":
        from sqzfpga.model import preprocess

        s.log(f"[lower] input table: image bytes -> {low.ops[0]['q']} (input Quant node {low.input_node!r}) as "
              f"{preprocess.of(s.onnx).describe()}")
    onnx.save(s.canon, str(s.dir / "canonical.onnx"))


def step_samples(s: BuildState) -> None:
    """Verification images (used by the C and RTL simulations): shipped samples, --data, or random."""
    import numpy as np

    from sqzfpga.model import reference
    from sqzfpga.model.checkpoint import DEFAULT_CHECKPOINT, DEFAULT_SAMPLES

    onnx_model = load_onnx(s)
    _, c, h, w = reference.input_shape(onnx_model)
    n = s.request.images
    if s.request.data:
        from sqzfpga.model import data

        ds = data.load(s.request.data, "test", c, h).subset(n, "--images", s.log)
        images, labels, source = ds.images, ds.labels, ds.source
    elif s.request.model.resolve() == DEFAULT_CHECKPOINT.resolve() and DEFAULT_SAMPLES.exists():
        d = np.load(DEFAULT_SAMPLES)
        images, labels, source = d["images"][:n], d["labels"][:n], "shipped samples (Fashion-MNIST t10k)"
        if n > len(images):
            s.log(f"warning: --images {n}: the shipped samples hold only {len(images)} images; using those "
                  "(pass --data for more)")
    else:
        images = np.random.default_rng(0).integers(0, 256, (n, c, h, w), dtype=np.uint8)
        labels, source = None, "random images (no labels: pass --data for accuracy)"
    s.images, s.labels, s.images_source = images, labels, source
    s.expected = reference.run(onnx_model, images)  # golden outputs, for the C simulation and testbench
    np.savez_compressed(s.dir / "samples.npz", images=images, **({"labels": labels} if labels is not None else {}))


def step_hls(s: BuildState) -> None:
    """hls4ml ModelGraph with our layers; folding, FIFO depths, fit check; then the project is written."""
    graph(s, write=True)


def step_rtl(s: BuildState) -> None:
    """SystemVerilog dataflow from the same ModelGraph (folded by the planner for the part), linted;
    rtl/ is replaced only when done, and the RTL simulation of the previous RTL goes with it. A model
    or machine the RTL backend fails on (a layer type's rtl(), the input width, Verilator missing,
    the lint) is an error that names that backend and where the HLS backend's complete project is
    (a build keeps its partial folder for it, as for a failed vendor tool); where nothing asked for
    needs the RTL (`needs_rtl`), a warning, and the build goes on without rtl/."""
    from sqzfpga.rtl import generate

    hm = graph(s)  # the HLS backend's graph: an error here is not the RTL backend's
    tmp = Path(tempfile.mkdtemp(prefix=".rtl.partial-", dir=s.dir))
    try:
        s.rtl = generate.write(hm, tmp, s.budget, s.request.max_cycles, s.request.stream_bits)
        swap_in(tmp, s.dir / "rtl")
        s.rtl_error = None
    except UserError as e:
        shutil.rmtree(tmp, ignore_errors=True)
        if needs_rtl(s.request):
            hint = "; `--accel hls` builds without the RTL" if s.request.accel == "rtl" else ""
            raise ToolFailed(f"RTL backend: {e}; the HLS project in {s.dir / 'hls'} is complete{hint}") from None
        s.log(f"warning: RTL backend: {e}; the build continues without rtl/ (--accel hls)")
        shutil.rmtree(s.dir / "rtl", ignore_errors=True)  # a continued range's earlier RTL is not this graph's
        s.rtl, s.rtl_error = None, str(e)
    except BaseException:
        shutil.rmtree(tmp, ignore_errors=True)
        raise
    (s.dir / "rtlsim.json").unlink(missing_ok=True)
    s.synth = s.rtlsim = None


def needs_rtl(r: BuildRequest) -> bool:
    """Whether the request needs the RTL: the RTL accelerator, or a range that ends at the rtl step
    (the `rtl` command) or runs the RTL simulation or synthesis."""
    return r.accel == "rtl" or r.stop_step in ("rtl", "rtlsim", "synth")


def step_csim(s: BuildState) -> None:
    import numpy as np

    from sqzfpga.hls.csim import simulate

    images, labels = load_samples(s), s.labels
    res, y = simulate(graph(s), load_onnx(s), load_golden(s), images, labels, load_expected(s), log=s.log)
    load_checkpoint(s)
    if s.torch_model is not None and labels is not None:
        from sqzfpga.model.evaluate import predict

        res["torch_accuracy"] = float((predict(s.torch_model, images).argmax(1) == labels).mean())
    s.csim = res
    from sqzfpga.driver.layout import to_raw

    frac = int(list(s.graph.get_layers())[-1].get_attr("out_q")[1])
    np.savez_compressed(s.dir / "csim.npz", images=images, outputs=to_raw(y, frac))
    if not res["exact"]:
        bad = {k: v for k, v in res["layer_mismatches"].items() if v}
        raise UserError(f"C simulation differs from the QONNX reference ({res['mismatching_values']} output values;"
                        f" layers {bad or 'exact on the traced images'}); this is a bug in sqzfpga, please report "
                        "it with the model file")


def step_project(s: BuildState) -> None:
    """Testbench + vectors, run when the csim step ran (as Vitis csim runs it, linked with the firmware
    that step compiled: it writes tb_data/csim_results.log); hls4ml's build options; where Vitis HLS (or,
    for the Vivado backend, Vivado HLS) is on PATH, hls4ml's build_prj.tcl run as hls4ml runs it: C
    simulation, synthesis, IP export. The HLS lint (hls/lint.py) checks the project first."""
    from sqzfpga import vendor
    from sqzfpga.driver.layout import Layout
    from sqzfpga.hls import lint, project

    prj, backend = s.dir / "hls", s.request.backend
    project.write_testbench(prj, load_samples(s)[:50], load_expected(s)[:50], load_golden(s))
    if s.csim is not None:
        try:
            line = project.run_testbench(prj, project.compiled_library(graph(s)))
        except RuntimeError as e:
            raise UserError(f"the HLS project's testbench (hls/{project.PROJECT}_test.cpp): {e}; this is a bug in "
                            "sqzfpga, please report it with the model file") from None
        s.log(f"[csim] testbench: {line} (hls/{project.CSIM_RESULTS})")
    layout, in_bits = stream_interface(s)
    project.write_axis_top(prj, Layout.from_dict(layout), in_bits)
    lint.check(prj)  # what Vitis HLS would not pipeline at II=1 stops here, before the vendor tools
    argv = project.write_build_options(prj, backend)
    if shutil.which(argv[0]):
        path = vendor.run(argv, prj, vendor.HLS_TIMEOUT_S, produces=(project.EXPORTED_IP,), log=s.log)
        next_step = (f"C simulation, synthesis and IP export ran with {argv[0]} (IP in hls/"
                     f"{Path(project.EXPORTED_IP).parent}, log hls/{path.relative_to(prj)}).")
    else:
        cmd = f"cd {shlex.quote(str(s.request.out / 'hls'))} && {shlex.join(argv)}"
        older = " (Vitis before 2023.2: `vitis_hls -f build_prj.tcl`)" if argv[0] == "vitis-run" else ""
        opts = "build_opt.tcl" if backend == "Vitis" else "the argument"
        tools = "vitis-run or vitis_hls" if backend == "Vitis" else argv[0]
        next_step = (f"No {tools} on PATH: the build stopped after C simulation. Where the tool is installed run "
                     f"`{cmd}`{older}; {opts} asks hls4ml's build_prj.tcl for C simulation, synthesis and IP "
                     "export.")
    s.next_steps = [next_step]


def step_deploy(s: BuildState) -> None:
    """With --board: Vivado scripts (checked with tclsh), the deployment folder and its archive; with
    --bitstream, the Vivado run when the tools are here. The package describes the deployed
    accelerator: its byte layout, and cycles per frame as the RTL plan counts them for --accel rtl,
    as hls.fit does for --accel hls (which needs no rtl/)."""
    from sqzfpga.deploy import package, scripts

    out = s.request.out
    s.next_steps = s.next_steps[:1]  # the project step's line; this step's follows it
    rtl = load_rtl(s) if s.request.accel == "rtl" else None
    cycles = rtl["plan"]["cycles_per_frame"] if rtl else (s.fit or s.previous["hls"])["cycles_per_frame"]
    meta = package.write(s.dir, s.board, s.request.accel, stream_interface(s)[0], cycles, s.request.clock_mhz,
                         rtl, log=s.log)
    if s.request.bitstream and all(shutil.which(argv[0]) for _, argv in meta["tools"]):
        package.run_vivado(s.dir, meta, log=s.log)
        s.next_steps.append(f"Bitstream written (deploy/{meta['bitstream']}); run it on the board with "
                            f"`python -m sqzfpga deploy --build {out} --host HOST`.")
        return
    missing = ", ".join(sorted({argv[0] for _, argv in meta["tools"] if not shutil.which(argv[0])}))
    cmds = scripts.commands(out, meta["tools"])
    s.vivado_missing = (f"--bitstream: {missing} not on PATH; the build in {out} is complete up to the "
                        f"bitstream: run {cmds} where Vivado is installed") if s.request.bitstream else None
    s.next_steps.append(f"The bitstream step needs Vivado ({missing} not on PATH here): on a machine with "
                        f"it run `{cmds}`; then `python -m sqzfpga deploy --build {out} --host HOST` "
                        "copies deploy/ to the board and runs validate.py there (or `--csim` to try the package "
                        "on the C-simulation stand-in first).")


def step_report(s: BuildState) -> None:
    """report.json: what the report needs from the in-memory graph (per-layer rows, weight and
    activation ranges) and the command the build ran with; rendered once build.json is written."""
    from sqzfpga.report import page as report

    images, expected = load_samples(s), load_expected(s)
    acts = report.activation_ranges(load_onnx(s), load_golden(s), images)
    layers = report.layer_facts(graph(s), s.rows, acts)
    meta = load_checkpoint(s)
    facts = {"command": s.request.command, "clock_mhz": s.request.clock_mhz, "labelled": s.labels is not None,
             "next_steps": s.next_steps, "layers": layers,
             "model": {"file": str(s.request.model), "input_shape": list(images.shape[1:]),
                       "input_bits": load_canonical(s)[1].bits,  # the report's, where there is no rtl/rtl.json
                       "classes": int(expected.shape[-1]), "parameters": sum(l["parameters"] for l in layers),
                       "weight_bits": sorted({b for l in layers for b in l["weight_widths"]}),
                       "act_bits": sorted({l["act_width"] for l in layers}),
                       "float_accuracy": meta.get("float_accuracy"), "accuracy": meta.get("accuracy")}}
    (s.dir / report.FACTS).write_text(json.dumps(facts, indent=1) + "\n")


def step_rtlsim(s: BuildState) -> None:
    """The generated RTL cycle by cycle on the verification images, against the C simulation (rtlsim.json)."""
    from sqzfpga.sim.rtlsim import rtlsim

    s.rtlsim = rtlsim(s.dir, s.request.rtlsim_images, s.request.rtlsim_clock_mhz or s.request.clock_mhz, log=s.log)
    (s.dir / "rtlsim.json").write_text(json.dumps(s.rtlsim, indent=1) + "\n")


def step_synth(s: BuildState) -> None:
    """Yosys synth_xilinx on the generated RTL (rtl/synth.json), then the timing estimate on the netlists
    it wrote (rtl/timing.json, seconds) where the delay model covers the part; an RTL simulation's
    frames/s (rtlsim.json) are quoted again at the estimated clock."""
    from sqzfpga.rtl.synth import synthesize
    from sqzfpga.rtl.timing import covers, estimate
    from sqzfpga.sim.rtlsim import rerate

    if not (s.dir / "rtl" / "rtl.json").exists():
        raise UserError(f"build folder {s.request.out}: has no generated RTL; run `python -m sqzfpga rtl --build "
                        f"{s.request.out}`")
    s.log(f"[synth] Yosys synth_xilinx on {s.request.out / 'rtl'} for {s.part.name} (minutes for a whole network) ...")
    s.synth = synthesize(s.dir / "rtl", s.part, show_progress=s.request.progress)
    if not covers(s.part):
        s.log(f"[synth] no timing estimate: the delay model does not cover {s.part.name} ({s.part.family.name}); "
              f"frames/s stay at the requested clock, marked not analysed")
    else:
        s.timing = estimate(s.dir / "rtl", s.part, show_progress=s.request.progress)
        cp = s.timing["critical_path"]
        s.log(f"[synth] timing estimate: fmax {s.timing['fmax_mhz']} MHz, critical path {cp['ns']} ns in "
              f"{cp['stage']} ({s.timing['timing_s']} s)")
    rerate(s.dir)


STEPS: list[tuple[str, Callable[[BuildState], None]]] = [
    ("export", step_export), ("lower", step_lower), ("samples", step_samples), ("hls", step_hls),
    ("rtl", step_rtl), ("csim", step_csim), ("project", step_project), ("deploy", step_deploy),
    ("report", step_report), ("rtlsim", step_rtlsim), ("synth", step_synth)]
STEP_NAMES = [name for name, _ in STEPS]


# ---- build.json ----------------------------------------------------------------------------------------
def resources(s: BuildState) -> dict:
    """The deployed accelerator's LUT/FF/BRAM36/DSP estimate (and whether it fits the part): the RTL
    planner's (as `plan` states it) for --accel rtl, hls.fit's for --accel hls (BRAM36 = BRAM18 / 2, a
    URAM counted as 8 BRAM36 as the planner's budget counts it). The other
    backend's figures stay beside it, under "hls" and "rtl"."""
    keys = ("lut", "ff", "bram36", "dsp")
    hls, manifest = s.fit or s.previous.get("hls"), _rtl_so_far(s)
    if (hls if s.request.accel == "hls" else manifest) is None:  # stopped before that backend's step
        return dict.fromkeys((*keys, "fits"))
    if s.request.accel == "hls":
        return {"lut": hls["lut"], "ff": hls["ff"], "bram36": hls["bram18"] / 2 + 8 * hls["uram"], "dsp": hls["dsp"],
                "fits": hls["fits"]}
    est, cap = manifest["plan"]["estimate"], s.part.capacity()
    return {**{k: est[k] for k in keys}, "fits": all(est[k] <= cap[k] for k in keys)}


def _rtl_so_far(s: BuildState) -> dict | None:
    """The RTL manifest, when the rtl step has run (in this range or before it)."""
    return load_rtl(s) if s.rtl is not None or (s.dir / "rtl" / "rtl.json").exists() else None


def summary(s: BuildState) -> dict:
    """build.json: the request, the deployed accelerator's resources, the results of every step so far
    (this range's, and for the steps before it, the folder's)."""
    r, c, manifest = s.request, s.csim, _rtl_so_far(s)
    csim = (s.previous.get("csim") if c is None else
            {k: c.get(k) for k in ("images", "exact", "argmax_agreement", "accuracy", "torch_accuracy",
                                   "mismatching_values", "layer_images", "compile_s", "s_per_image")})
    return {"model": str(r.model), "part": s.part.name, "device": s.part.device, "out": str(r.out),
            "backend": r.backend, "clock_mhz": r.clock_mhz, "accel": r.accel, "max_cycles": r.max_cycles,
            "stream_bits": r.stream_bits,
            **resources(s), "hls": s.fit or s.previous.get("hls"), "csim": csim,
            "rtl": None if manifest is None else {**{k: manifest["plan"][k] for k in (
                "cycles_per_frame", "bottleneck", "lanes", "dsp", "estimate", "macs_per_frame")},
                "stream_bits": manifest["layout"].get("stream_bits", 8)},  # the width built (asked or chosen)
            "rtl_error": s.rtl_error,  # why there is no rtl/ in an --accel hls build (the RTL backend failed)
            "images_source": s.images_source or s.previous.get("images_source"),
            "steps": {**s.previous.get("steps", {}), **s.timings},
            "next": " ".join(s.next_steps), "board": r.board,
            "deploy": None if r.board is None else str(r.out / "deploy"),
            **rate_summary(s.dir, r.accel, r.clock_mhz, s.fit or s.previous.get("hls"))}


RATE_KEYS = ("fps", "fps_from", "clock_used_mhz", "clock_source", "fmax_mhz", "latency_us")  # `rate_summary`'s


def rate_summary(folder: Path, accel: str, clock_mhz: float, hls: dict | None) -> dict:
    """build.json's frame rate (rtl.rate): the deployed accelerator's cycles per frame (for --accel rtl
    rtlsim's measured ones where it ran, else the plan's; for --accel hls hls.fit's) at min(clock_mhz,
    the RTL timing estimate's fmax), `fps_from` saying whose cycles; the clock used beside the
    requested `clock_mhz`; batch-1 latency where rtlsim measured it. None where no backend step ran."""
    from sqzfpga.rtl.rate import rate, read_timing

    manifest = folder / "rtl" / "rtl.json"
    sim = folder / "rtlsim.json"
    if accel == "hls":  # the HLS accelerator: its timing is Vitis HLS's, not analysed here
        if hls is None:
            return dict.fromkeys(RATE_KEYS)
        r, src = rate(hls["cycles_per_frame"], None, clock_mhz, None), "hls estimate"
    elif sim.exists():
        res = json.loads(sim.read_text())
        r, src = rate(res["cycles_per_frame"], res["latency_cycles"], clock_mhz, read_timing(folder / "rtl")), "rtlsim"
    elif manifest.exists():
        plan = json.loads(manifest.read_text())["plan"]
        r, src = rate(plan["cycles_per_frame"], None, clock_mhz, read_timing(folder / "rtl")), "plan"
    else:
        return dict.fromkeys(RATE_KEYS)
    d = r.to_dict()
    return {"fps": d["fps"], "fps_from": src, "clock_used_mhz": d["clock_mhz"], "clock_source": d["clock_source"],
            "fmax_mhz": d["fmax_mhz"], "latency_us": d["latency_us"]}


# ---- running a range -------------------------------------------------------------------------------------
def new_state(request: BuildRequest, folder: Path, log=print) -> BuildState:
    """The state of a range over `folder`: a folder that holds a build continues it (build.json)."""
    board = None
    if request.board is not None:
        from sqzfpga.deploy.boards import get_board

        board = get_board(request.board, request.part)
    from sqzfpga.report.page import FACTS

    previous = json.loads((folder / "build.json").read_text()) if (folder / "build.json").exists() else {}
    facts = json.loads((folder / FACTS).read_text()) if (folder / FACTS).exists() else {}
    return BuildState(request=request, dir=folder, part=get_part(request.part), board=board, log=log,
                      previous=previous, next_steps=facts.get("next_steps", []),
                      rtl_error=None if (folder / "rtl" / "rtl.json").exists() else previous.get("rtl_error"))


def run(s: BuildState, announce: bool = True) -> BuildState:
    """The request's steps over `s.dir`, timed; `announce` logs each step's name as it starts."""
    for name in s.request.steps():
        t0 = time.time()
        if announce:
            s.log(f"[build] {name} ...")
        dict(STEPS)[name](s)
        s.timings[name] = round(time.time() - t0, 2)
    return s


def _finish(s: BuildState) -> dict:
    """build.json, then the report where the folder has what it shows (the report step's facts; the
    RTL, or why an --accel hls build has none); returns build.json's content."""
    from sqzfpga.report.page import FACTS, write_report

    done = summary(s)
    (s.dir / "build.json").write_text(json.dumps(done, indent=2) + "\n")
    if (s.dir / FACTS).exists() and ((s.dir / "rtl" / "rtl.json").exists() or s.rtl_error):
        write_report(s.dir)
    return done


def build(request: BuildRequest, log=print) -> dict:
    """Run the request's range into a temporary folder (a copy of the build folder when the range
    starts after `export`), write build.json and the report, swap it in as `request.out`."""
    out = request.out
    if out.exists() and not out.is_dir():
        raise UserError(f"build folder {out}: is a file; choose another --out")
    is_build = (out / "build.json").exists()
    if out.is_dir() and any(out.iterdir()) and not is_build:
        raise UserError(f"build folder {out}: exists and is not an sqzfpga build; choose another --out")
    continued = request.start_step != STEP_NAMES[0]
    if continued and not is_build:
        raise UserError(f"--start-step {request.start_step}: {out} is not an sqzfpga build folder to continue (no "
                        "build.json); run the build from the start (--start-step export) first")
    if request.command is None:
        request = dataclasses.replace(request, command=(
            f"python -m sqzfpga build --model {shlex.quote(str(request.model))} --part {request.part} "
            f"--out {shlex.quote(str(out))}"))
    try:
        out.parent.mkdir(parents=True, exist_ok=True)
        tmp = Path(tempfile.mkdtemp(prefix=f".{out.name}.partial-", dir=out.parent))
    except OSError as e:
        raise UserError(f"build folder {out}: cannot be written ({e.strerror}); choose another --out") from None
    try:
        if continued:
            shutil.copytree(out, tmp, symlinks=True, dirs_exist_ok=True)
        s = run(new_state(request, tmp, log))
        done = _finish(s)
        swap_in(tmp, out)
    except ToolFailed as e:  # the partial folder stays: it holds the log the message names
        raise ToolFailed(f"{e} (the partial build is kept in {tmp})") from None
    except BaseException:
        shutil.rmtree(tmp, ignore_errors=True)
        raise
    log(f"[build] wrote {out} (report: {out / 'report.html'}, {out / 'report.md'})")
    for line in s.next_steps:
        log(f"[build] {line}")
    if s.vivado_missing:
        raise UserError(s.vivado_missing)
    refuse_inexact_rtlsim(s)
    return done


def request_of(build_dir: Path, **changes) -> BuildRequest:
    """The request a build folder was built with (its build.json), with `changes`."""
    b = json.loads((Path(build_dir) / "build.json").read_text())
    asked = {"model": b["model"], "part": b["part"], "out": build_dir, "backend": b["backend"],
             "clock_mhz": b["clock_mhz"], "accel": b.get("accel", "rtl"), "max_cycles": b.get("max_cycles"),
             "stream_bits": b.get("stream_bits"), "board": b.get("board"), "csim": b.get("csim") is not None}
    return BuildRequest(**{**asked, **changes})


def rerun(request: BuildRequest, log=print) -> BuildState:
    """The request's range over its existing build folder, in place (each of the steps that re-run,
    rtl, rtlsim and synth, replaces only its own results), then the report rendered again; a build
    from before reports existed keeps its results and gets a note instead."""
    from sqzfpga.report.page import write_report

    s = run(new_state(request, request.out, log), announce=False)
    update_rates(request.out)
    try:
        write_report(request.out)
    except UserError as e:
        log(f"note: report not updated: {e}")
    refuse_inexact_rtlsim(s)
    return s


def update_rates(build_dir: Path) -> None:
    """build.json's frame rate (`rate_summary`) again from the folder's files, after a step or a timing
    estimate changed what it is computed from."""
    from sqzfpga.atomic import atomic_path

    path = build_dir / "build.json"
    b = json.loads(path.read_text())
    b.update(rate_summary(build_dir, b.get("accel", "rtl"), b["clock_mhz"], b.get("hls")))
    with atomic_path(path) as tmp:
        tmp.write_text(json.dumps(b, indent=2) + "\n")


def refuse_inexact_rtlsim(s: BuildState) -> None:
    if s.rtlsim is not None and not s.rtlsim["exact"]:
        raise UserError(f"RTL simulation of {s.request.out}: {s.rtlsim['mismatching_values']} output values differ "
                        "from the C simulation (a bug in sqzfpga; please report it with the model file)")


def plan_graph(s: BuildState) -> dict:
    """The RTL planner's folding of the state's graph for its part (what `plan` shows)."""
    from sqzfpga.rtl.generate import units_of
    from sqzfpga.rtl.plan import plan_stream

    units, _ = units_of(graph(s))
    p, bits = plan_stream(units, s.budget, s.request.max_cycles, s.request.stream_bits)
    return {**p, "stream_bits": bits}


def plan_model(request: BuildRequest, log=print) -> dict:
    """`plan --model`: the export and lower steps in a scratch folder, then the plan (nothing is kept)."""
    with tempfile.TemporaryDirectory() as d:
        req = dataclasses.replace(request, out=Path(d), start_step="export", stop_step="lower")
        return plan_graph(run(new_state(req, Path(d), log), announce=False))
