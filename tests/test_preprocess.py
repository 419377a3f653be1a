"""Input preprocessing made exact and explicit: a model trained on inputs in [0, 1] (or with per-channel
mean and std) states its preprocessing once (--input-scale, --mean, --std, or the ONNX file's metadata);
the lowering turns it into a per-channel byte table (SqzTable) in both backends, and the reference, the C
simulation and the RTL agree with Brevitas on the same bytes. Without it the build refuses the model in
one line instead of saturating silently. The model: tests/preprocess_net.py (3 x 16 x 16 inputs).
About 75 s on 2 shared cores (the build to the RTL simulation 30 s, to the C simulation with eval 16 s,
the table module's bench 11 s, the refusals 11 s, exports 3 s)."""
from __future__ import annotations

import json

import numpy as np
import onnx
import pytest

from conftest import assert_clean_error, image_folder, run_cli

pytest.importorskip("brevitas")
import preprocess_net as pn  # noqa: E402  (tests/ is on sys.path)

MEAN, STD = "0.5,0.45,0.5", "0.6,0.55,0.5"  # per channel; every channel's range inside [-1, 1]
pytestmark = pytest.mark.xdist_group("preprocess")  # `user_model` is exported once, on one worker


@pytest.fixture(scope="module")
def user_model(tmp_path_factory):
    folder = tmp_path_factory.mktemp("pre")
    net = pn.build()
    return net, pn.export(net, folder / "model.onnx"), folder


def _summary(proc) -> dict:
    assert proc.returncode == 0, proc.stderr[-3000:]
    return json.loads(proc.stdout.strip().splitlines()[-1])


def test_unstated_preprocessing_is_refused(user_model, tmp_path):
    """Raw bytes into a [-1, 1) quantizer: one error line naming the node, both ranges and the fix, in
    build and eval; a per-channel list of the wrong length and options contradicting the file's
    metadata are one line too."""
    _, path, _ = user_model
    proc = run_cli("build", "--model", path, "--part", "xc7z020", "--out", tmp_path / "b", "--stop-step", "lower")
    assert_clean_error(proc, "input Quant node '/inp/act_quant/export_handler/Quant'", "[-1, 0.992188]",
                       "[0, 255]", "--input-scale 1/255")
    assert not (tmp_path / "b").exists()
    data = image_folder(tmp_path / "data", per_class=2, size=pn.SIZE)
    assert_clean_error(run_cli("eval", "--model", path, "--data", data), "--input-scale 1/255")
    # a stated preprocessing the quantizer does not cover: the byte 255 / 127 lies far above its range
    assert_clean_error(run_cli("eval", "--model", path, "--data", data, "--input-scale", "1/127"),
                       "does not cover the preprocessed input [0, 2.00787]", "--input-scale, --mean, --std")
    assert_clean_error(run_cli("eval", "--model", path, "--data", data, "--input-scale", "1/255", "--mean", "0.5,0.5"),
                       "--mean 0.5,0.5: 2 values for a 3-channel input")
    stored = onnx.load(path)
    from sqzfpga.model import preprocess

    preprocess.store(stored, preprocess.from_options("1/255", None, None))
    onnx.save(stored, str(tmp_path / "stored.onnx"))
    assert_clean_error(run_cli("build", "--model", tmp_path / "stored.onnx", "--out", tmp_path / "b2",
                               "--input-scale", "1/256", "--stop-step", "lower"),
                       "options state the input preprocessing", "its metadata")
    # sqzfpga's own checkpoints take raw bytes: other preprocessing contradicts them
    assert_clean_error(run_cli("build", "--out", tmp_path / "b3", "--input-scale", "1/255"),
                       "sqzfpga's checkpoints take raw bytes 0..255")


def test_stated_scale_builds_exact_through_rtl(user_model, tmp_path):
    """--input-scale 1/255: a table layer first; C simulation exact against the reference, whose outputs
    equal Brevitas's on bytes / 255; the RTL simulation (bytes in over the DMA model) exact too."""
    net, path, _ = user_model
    out = tmp_path / "b"
    proc = run_cli("build", "--model", path, "--part", "xc7z020", "--out", out, "--images", 6, "--input-scale",
                   "1/255", "--stop-step", "rtlsim", "--json")
    summary = _summary(proc)
    assert "[lower] input table: image bytes -> int8*2^-7" in proc.stdout + proc.stderr
    assert summary["csim"]["exact"] is True, summary["csim"]
    assert json.loads((out / "rtlsim.json").read_text())["exact"]
    stages = json.loads((out / "rtl" / "rtl.json").read_text())["stages"]
    assert [s["name"] for s in stages[:2]] == ["input_adapter", "input_fifo"], stages
    assert stages[2]["module"] == "sqz_table", stages  # the first layer: the input table
    samples, csim = np.load(out / "samples.npz"), np.load(out / "csim.npz")
    want = pn.predict(net, samples["images"] / np.float32(255))
    frac = json.loads((out / "rtl" / "rtl.json").read_text())["output"]["frac"]
    np.testing.assert_array_equal(csim["outputs"] * 2.0 ** -frac, want)
    assert np.unique(want).size > 4, "outputs are degenerate; the comparison would prove little"


def test_per_channel_mean_std_exact_and_eval_equals_brevitas(user_model, tmp_path):
    """--mean/--std per channel: C simulation exact and equal to Brevitas on (bytes / 255 - mean) / std;
    `eval` with the same options gives Brevitas's accuracy on the same images."""
    from sqzfpga.model import data

    net, path, _ = user_model
    folder = image_folder(tmp_path / "data", classes=("a", "b", "c", "d"), per_class=8, size=pn.SIZE)
    opts = ("--input-scale", "1/255", "--mean", MEAN, "--std", STD)
    proc = run_cli("build", "--model", path, "--part", "xc7z020", "--out", tmp_path / "b", "--data", folder,
                   "--images", 8, "--stop-step", "csim", "--json", *opts)
    assert _summary(proc)["csim"]["exact"] is True
    mean, std = (np.array([float(v) for v in s.split(",")], np.float32)[None, :, None, None] for s in (MEAN, STD))
    ds = data.load(folder, "test", pn.CHANNELS, pn.SIZE)
    brevitas = pn.predict(net, (ds.images / np.float32(255) - mean) / std)
    csim = np.load(tmp_path / "b" / "csim.npz")
    assert (csim["outputs"].argmax(1) == brevitas[:8].argmax(1)).all()
    ev = _summary(run_cli("eval", "--model", path, "--data", folder, "--json", *opts))
    assert ev["images"] == len(ds) and ev["accuracy"] == float((brevitas.argmax(1) == ds.labels).mean())
    # without the mean and std the same model and images score differently: the options are applied
    plain = _summary(run_cli("eval", "--model", path, "--data", folder, "--json", "--input-scale", "1/255"))
    assert not np.array_equal(pn.predict(net, ds.images / np.float32(255)), brevitas)
    assert plain["accuracy"] == float((pn.predict(net, ds.images / np.float32(255)).argmax(1) == ds.labels).mean())


def test_table_is_the_quantized_preprocessing_and_the_identity_is_elided(user_model, tmp_path):
    """The table equals Quant((b * scale - mean) / std) for every byte and channel (numpy, from the
    definition); a raw-pixel model (sqzfpga's own input quantizer, as the default model's) gets no table
    layer, and neither does its lowering with the identity stated explicitly; [0, 1] inputs into it are
    refused."""
    from sqzfpga.errors import UserError
    from sqzfpga.frontend.preprocess import table
    from sqzfpga.ir.types import QType
    from sqzfpga.layers import lower
    from sqzfpga.model import preprocess, reference

    _, path, _ = user_model
    model = reference.load(path)
    preprocess.store(model, preprocess.from_options("1/255", MEAN, STD))
    _, _, low = lower(model)
    got = low.ops[0]["table"]
    b = np.arange(256, dtype=np.float64)
    want = np.stack([np.clip(np.round((b * (1 / 255) - m) / s * 128), -128, 127)
                     for m, s in zip(map(float, MEAN.split(",")), map(float, STD.split(",")))])
    np.testing.assert_array_equal(got, want)
    assert len({tuple(r) for r in got}) == 3  # per channel, not one table for all
    # a wrong rounding (half up instead of half to even) would differ somewhere: the check can fail
    assert not np.array_equal(table(preprocess.Preprocess(1 / 2), QType(8, 0, False), 1),
                              np.floor(np.arange(256) / 2 + 0.5)[None])
    raw = reference.load(pn.export(pn.build(raw=True), tmp_path / "raw.onnx"))
    canon, _, _ = lower(raw)
    assert [n.op_type for n in canon.graph.node][0] == "SqzConv"
    preprocess.store(raw, preprocess.from_options("1", "0", "1"))
    assert lower(raw)[0].SerializeToString() == canon.SerializeToString()
    # [0, 1] into that scale-1 quantizer keeps 2 of its 256 levels: refused, not silently thrown away
    preprocess.store(raw, preprocess.from_options("1/255", None, None))
    with pytest.raises(UserError, match="keeps only 2 levels of the preprocessed input"):
        lower(raw)


def test_table_module_every_byte_with_stalls(tmp_path):
    """sqz_table alone (3 channels, signed 7-bit outputs, random tables): every byte of every channel
    once, random valid and ready stalls, against the scoreboard; one table entry changed in what the
    scoreboard expects is caught (so every entry is looked at). About 11 s."""
    from sqzfpga.frontend.preprocess import BYTE
    from sqzfpga.ir.types import QType
    from sqzfpga.layers import REGISTRY
    from sqzfpga.rtl.generate import _literal
    from sqzfpga.sim import scoreboard as sb
    from sqzfpga.sim.rtlsim import run_module

    class Layer:  # a graph layer as the layer type's RTL reads it (hls4ml's attributes dict)
        class_name = "SqzTable"

    rng, q = np.random.default_rng(3), QType(7, 3, True)
    layer = Layer()
    layer.attributes = {"in_shape": [16, 16, 3], "out_shape": [16, 16, 3], "in_q": BYTE.triple(),
                        "out_q": q.triple(), "table": rng.integers(q.lo, q.hi + 1, (3, 256))}
    _, render = REGISTRY["SqzTable"].rtl(layer, "dut")
    module, params = render(tmp_path)
    x = np.stack([rng.permutation(256) for _ in range(3)], axis=-1).reshape(16, 16, 3)  # each byte once per channel
    want = sb.table(x, layer.attributes["table"])
    beats_in = [sb.pack(px, 8) for px in x.reshape(-1, 3)]
    params = {k: _literal(v) for k, v in params.items()}
    ok, log = run_module(module, params, tmp_path, tmp_path / "sim", beats_in, [sb.pack(px, 7) for px in
                                                                             want.reshape(-1, 3)], 0.3)
    assert ok, log[-2000:]
    wrong = want.copy()
    wrong[9, 4, 2] = wrong[9, 4, 2] + 1 if wrong[9, 4, 2] < q.hi else q.lo
    ok, log = run_module(module, params, tmp_path, tmp_path / "sim", beats_in, [sb.pack(px, 7) for px in
                                                                              wrong.reshape(-1, 3)], 0.3)
    assert not ok and "differ from the numpy model" in log
