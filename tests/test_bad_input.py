"""The bad-input matrix: every kind of bad input to the CLI gets one clear `error:` line naming what is
wrong, a non-zero exit and no traceback, and writes nothing. Run in-process through `cli.main` (the
same code path as `python -m sqzfpga`, without an interpreter start per case); test_cli checks the
subprocess path."""
import contextlib
import gzip
import io

import numpy as np
import onnx
import pytest
from onnx import numpy_helper

from sqzfpga.cli import main
from sqzfpga.model.checkpoint import DEFAULT_CHECKPOINT

pytestmark = pytest.mark.xdist_group("default_build")  # the ONNX cases edit the default build's QONNX


def run(*args) -> tuple[int, str]:
    err = io.StringIO()
    with contextlib.redirect_stderr(err), contextlib.redirect_stdout(io.StringIO()):
        rc = main([str(a) for a in args])
    return rc, err.getvalue()


def assert_one_error(rc: int, err: str, *needles: str) -> None:
    assert rc != 0, err
    assert "Traceback" not in err, err
    lines = [ln for ln in err.splitlines() if ln.startswith("error:")]
    assert len(lines) == 1, err
    for n in needles:
        assert n in lines[0], lines[0]


@pytest.fixture(scope="module")
def files(tmp_path_factory, fmnist_dir):
    """Broken files of every kind, made once."""
    d = tmp_path_factory.mktemp("bad")
    good = DEFAULT_CHECKPOINT.read_bytes()
    (d / "empty.pt").write_bytes(b"")
    (d / "truncated.pt").write_bytes(good[: len(good) // 2])
    (d / "corrupt.pt").write_bytes(bytes(np.random.default_rng(0).integers(0, 256, 4096, dtype=np.uint8)))
    (d / "empty.onnx").write_bytes(b"")
    (d / "corrupt.onnx").write_bytes(b"\x08\x07 this is no protobuf" * 50)
    (d / "not_a_folder").write_text("x")
    for name, edit in [("empty_idx", lambda raw: b""), ("truncated_idx", lambda raw: raw[:-1000]),
                       ("magic_idx", lambda raw: b"\x00\x00\x0d\x03" + raw[4:])]:
        folder = d / name
        folder.mkdir()
        for f in fmnist_dir.glob("t10k-*"):
            (folder / f.name).write_bytes(f.read_bytes())
        img = folder / "t10k-images-idx3-ubyte.gz"
        img.write_bytes(gzip.compress(edit(gzip.decompress(img.read_bytes()))))
    gz = d / "gzip_idx"
    gz.mkdir()
    for f in fmnist_dir.glob("t10k-*"):
        (gz / f.name).write_bytes(b"\x1f\x8b not really gzip" if "labels" in f.name else f.read_bytes())
    return d


CASES = [  # (id, argv with {d} = the broken-files folder, {data} = Fashion-MNIST, needles of the error line)
    ("checkpoint-missing", ["build", "--model", "{d}/nowhere.pt", "--out", "{d}/o"], ["nowhere.pt", "no such file"]),
    ("checkpoint-empty", ["build", "--model", "{d}/empty.pt", "--out", "{d}/o"], ["empty.pt", "not a readable", "empty file"]),
    ("checkpoint-truncated", ["build", "--model", "{d}/truncated.pt", "--out", "{d}/o"], ["truncated.pt", "truncated zip archive"]),
    ("checkpoint-corrupt", ["eval", "--model", "{d}/corrupt.pt", "--data", "{data}"], ["corrupt.pt", "neither a zip archive nor a pickle"]),
    ("onnx-missing", ["build", "--model", "{d}/nowhere.onnx", "--out", "{d}/o"], ["nowhere.onnx", "no such file"]),
    ("onnx-empty", ["build", "--model", "{d}/empty.onnx", "--out", "{d}/o"], ["empty.onnx", "not a valid ONNX"]),
    ("onnx-corrupt", ["plan", "--model", "{d}/corrupt.onnx"], ["corrupt.onnx", "not a valid ONNX"]),
    ("dataset-missing", ["eval", "--data", "{d}/no_data"], ["no_data", "no such file"]),
    ("idx-empty", ["eval", "--data", "{d}/empty_idx"], ["t10k-images-idx3-ubyte.gz"]),
    ("idx-truncated", ["eval", "--data", "{d}/truncated_idx"], ["t10k-images-idx3-ubyte.gz", "truncated"]),
    ("idx-wrong-magic", ["eval", "--data", "{d}/magic_idx"], ["t10k-images-idx3-ubyte.gz", "magic"]),
    ("idx-corrupt-gzip", ["eval", "--data", "{d}/gzip_idx"], ["t10k-labels-idx1-ubyte.gz", "cannot be read"]),
    ("weight-bits-9", ["train", "--data", "{data}", "--out", "{d}/x.pt", "--weight-bits", 9], ["weight_bits = 9", "2 to 8"]),
    ("act-bits-1", ["train", "--data", "{data}", "--out", "{d}/x.pt", "--act-bits", 1], ["act_bits = 1", "2 to 8"]),
    ("layer-bits-12", ["train", "--data", "{data}", "--out", "{d}/x.pt", "--layer-weight-bits", "conv1=12"],
     ["conv1 = 12"]),
    ("unknown-part", ["build", "--part", "xc9z999", "--out", "{d}/o"], ["xc9z999", "xc7z020"]),
    ("unknown-part-plan", ["plan", "--part", "xcvu9p"], ["xcvu9p", "xczu9eg"]),
    ("unknown-board", ["build", "--board", "pynq-z9", "--out", "{d}/o"], ["pynq-z9", "pynq-z2, zcu104"]),
    ("board-part-mismatch", ["build", "--part", "xc7z020", "--board", "kv260", "--out", "{d}/o"],
     ["kv260 carries the xck26", "pynq-z1"]),
    ("bitstream-without-board", ["build", "--bitstream", "--out", "{d}/o"], ["--bitstream needs --board"]),
    ("board-without-csim", ["build", "--board", "pynq-z2", "--no-csim", "--out", "{d}/o"], ["--no-csim"]),
    ("images-zero", ["build", "--images", 0, "--out", "{d}/o"], ["--images 0", "positive"]),
    ("fps-negative", ["plan", "--fps", -3], ["--fps -3", "positive"]),
    ("clock-zero", ["build", "--clock-mhz", 0, "--out", "{d}/o"], ["--clock-mhz 0", "positive"]),
    ("out-is-a-file", ["build", "--out", "{d}/not_a_folder"], ["not_a_folder", "is a file"]),
    ("out-not-writable", ["build", "--out", "/proc/sqzfpga/o"], ["/proc/sqzfpga/o", "cannot be written"]),
    ("out-foreign-folder", ["build", "--out", "{d}/magic_idx"], ["magic_idx", "not an sqzfpga build"]),
    ("rtlsim-not-a-build", ["rtlsim", "--build", "{d}"], ["not an sqzfpga build folder"]),
    ("deploy-not-a-build", ["deploy", "--build", "{d}", "--host", "board"], ["not an sqzfpga build folder"]),
    ("deploy-timeout-zero", ["deploy", "--build", "{d}", "--host", "board", "--timeout", 0], ["--timeout 0"]),
]


@pytest.mark.parametrize("argv,needles", [c[1:] for c in CASES], ids=[c[0] for c in CASES])
def test_bad_input(files, fmnist_dir, argv, needles):
    args = [str(a).format(d=files, data=fmnist_dir) for a in argv]
    before = sorted(p.name for p in files.iterdir())
    assert_one_error(*run(*args), *needles)
    assert sorted(p.name for p in files.iterdir()) == before  # nothing written, nothing half-written


def _edit_quant(m, kind, value):
    """Set input `kind` (1 scale, 3 bit width) of the third activation Quant to `value`."""
    consts = {t.name for t in m.graph.initializer}
    q = [n for n in m.graph.node if n.op_type == "Quant" and n.input[0] not in consts][2]
    init = next(t for t in m.graph.initializer if t.name == q.input[kind])
    init.CopyFrom(numpy_helper.from_array(np.full(numpy_helper.to_array(init).shape, value, np.float32), init.name))


def _unsupported(m):
    relu = next(n for n in m.graph.node if n.op_type == "Relu")
    relu.op_type, relu.name = "Sigmoid", "odd_node"


def _dynamic(m):
    dim = m.graph.input[0].type.tensor_type.shape.dim[2]
    dim.ClearField("dim_value")
    dim.dim_param = "height"


ONNX_CASES = [
    ("unsupported-op", _unsupported, [], ["odd_node", "Sigmoid", "supported ops:"]),
    ("scale-not-power-of-two", lambda m: _edit_quant(m, 1, 0.3), [], ["not a power of two"]),
    ("activation-bits-24", lambda m: _edit_quant(m, 3, 24), [], ["activation bit width [24.0]", "2 to 16"]),
    ("activation-bits-fractional", lambda m: _edit_quant(m, 3, 4.5), [], ["bit width [4.5]"]),
    ("dynamic-input-shape", _dynamic, [], ["input shape", "fixed N x C x H x W"]),
    ("wrong-input-rank", lambda m: m.graph.input[0].type.tensor_type.shape.dim.pop(1), [],
     ["input shape (1, 28, 28)", "fixed N x C x H x W"]),
    ("too-big-for-part", lambda m: None, ["--part", "xc7z010"], ["does not fit xc7z010", "BRAM36", "larger part"]),
]


@pytest.mark.parametrize("edit,extra,needles", [c[1:] for c in ONNX_CASES], ids=[c[0] for c in ONNX_CASES])
def test_bad_onnx(default_build, tmp_path, edit, extra, needles):
    out, _ = default_build
    m = onnx.load(str(out / "model.onnx"))
    edit(m)
    onnx.save(m, str(tmp_path / "edited.onnx"))
    assert_one_error(*run("build", "--model", tmp_path / "edited.onnx", "--out", tmp_path / "b", *extra), *needles)
    assert sorted(p.name for p in tmp_path.iterdir()) == ["edited.onnx"]  # no build, no partial folder


def test_deploy_without_bitstream(default_build):
    out, _ = default_build
    assert_one_error(*run("deploy", "--build", out, "--host", "board"), "bitstream missing",
                     "vivado -mode batch -source bitstream.tcl", "--csim")
