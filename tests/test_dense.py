"""Dense layers (QuantLinear: Gemm) and per-channel power-of-two weight scales, in models written as
Brevitas users write them and built through the CLI: Brevitas equals the reference executor bit for
bit, the C simulation is exact, and for the flattened 6x6 map the RTL simulation too; per-channel
weights widen the ROM words by the channel scales' spread (the plan and the fit count them); what
the hardware cannot do gets one error line. About 80 s on 2 cores under load 4 (export and build to
the RTL simulation 29 s, two builds to the C simulation 11-13 s each, the per-tensor twin to the RTL
4 s, eight error runs 2-4 s each, the MatMul lowering 2 s)."""
from __future__ import annotations

import json

import numpy as np
import onnx
import pytest
from onnx import helper, numpy_helper

from conftest import assert_clean_error, run_cli
from test_user_models import calibrated, export, images

torch = pytest.importorskip("torch")
nn = torch.nn
pytestmark = pytest.mark.xdist_group("dense")  # `flatten_export` and `flatten_build` are made once, on one worker


def dense_model(head: str = "flatten", per_channel: bool = True, pad_rows: int = 0, out_quant: bool = True):
    """A small CNN with a QuantLinear classifier as a Brevitas user writes one: raw pixels -> QuantConv2d
    3x3/2 -> QuantReLU -> MaxPool 3/2 (6x6x8) -> the head -> signed QuantIdentity output. Heads:
    "flatten": flatten the 6x6 map -> QuantLinear 288->16 -> QuantReLU -> QuantLinear 16->10 (4-bit);
    "pool3": MaxPool 2/2 -> flatten the 3x3 map -> QuantLinear 72->10;
    "gap": QuantConv2d 1x1 (4-bit) -> QuantReLU -> global average pool -> QuantReLU -> QuantLinear 16->10.
    Weights per output channel (Brevitas's fixed-point per-channel quantizer; a 4-bit variant of it),
    every third channel's range a tenth of the others' so the channel scales differ."""
    from brevitas.nn import QuantConv2d, QuantIdentity, QuantLinear, QuantReLU
    from brevitas.quant import (Int8ActPerTensorFixedPoint, Int8BiasPerTensorFixedPointInternalScaling,
                                Int8WeightPerTensorFixedPoint, Uint8ActPerTensorFixedPoint)
    from brevitas.quant.fixed_point import Int8WeightPerChannelFixedPoint

    from sqzfpga.model.quant import RawPixelQuant  # uint8 pixels at scale 1, the accelerator's input bytes

    w8 = Int8WeightPerChannelFixedPoint if per_channel else Int8WeightPerTensorFixedPoint

    class Int4WeightPerChannelFixedPoint(w8):
        bit_width = 4

    def layer(cls, *args, wq=w8, last=False, **kw):  # the classifier: a plain tensor out without a quantizer
        return cls(*args, bias=True, weight_quant=wq, bias_quant=Int8BiasPerTensorFixedPointInternalScaling,
                   return_quant_tensor=out_quant or not last, **kw)

    def relu():
        return QuantReLU(act_quant=Uint8ActPerTensorFixedPoint, return_quant_tensor=True)

    class Net(nn.Module):
        def __init__(self):
            super().__init__()
            self.inp = QuantIdentity(act_quant=RawPixelQuant, return_quant_tensor=True)
            self.conv1, self.relu1 = layer(QuantConv2d, 1, 8, 3, stride=2, padding=(pad_rows, 0)), relu()
            self.pool = nn.MaxPool2d(3, 2, ceil_mode=True)
            if head == "flatten":
                self.body = nn.Flatten()
                self.fc = nn.Sequential(layer(QuantLinear, (6 + pad_rows // 2) * 6 * 8, 16), relu(),
                                        layer(QuantLinear, 16, 10, wq=Int4WeightPerChannelFixedPoint, last=True))
            elif head == "pool3":
                self.body = nn.Sequential(nn.MaxPool2d(2, 2), nn.Flatten())
                self.fc = layer(QuantLinear, 72, 10, last=True)
            else:
                self.body = nn.Sequential(layer(QuantConv2d, 8, 16, 1, wq=Int4WeightPerChannelFixedPoint), relu(),
                                          nn.AdaptiveAvgPool2d(1), relu(), nn.Flatten())
                self.fc = layer(QuantLinear, 16, 10, last=True)
            self.out = QuantIdentity(act_quant=Int8ActPerTensorFixedPoint) if out_quant else nn.Identity()
            with torch.no_grad():
                for m in self.modules():
                    if isinstance(m, (QuantConv2d, QuantLinear)):
                        m.weight[::3] *= 0.1

        def forward(self, x):
            return self.out(self.fc(self.body(self.pool(self.relu1(self.conv1(self.inp(x)))))))

    return calibrated(Net)


def channels_last(path: str) -> str:
    """The export as qonnx's channels-last conversion leaves it (a FINN user's step): the map is NHWC
    when flattened, so the Gemm reads it in (y, x, c) order."""
    from qonnx.core.modelwrapper import ModelWrapper
    from qonnx.transformation.channels_last import ConvertToChannelsLastAndClean
    from qonnx.util.cleanup import cleanup_model

    out = path.replace(".onnx", "_nhwc.onnx")
    cleanup_model(ModelWrapper(path)).transform(ConvertToChannelsLastAndClean()).save(out)
    return out


def _summary(proc) -> dict:
    assert proc.returncode == 0, proc.stderr[-3000:]
    return json.loads(proc.stdout.strip().splitlines()[-1])


@pytest.fixture(scope="module")
def flatten_export(tmp_path_factory):
    """The model with the flattened 6x6 head and its export."""
    net = dense_model("flatten")
    return net, export(net, tmp_path_factory.mktemp("dense") / "flatten.onnx")


@pytest.fixture(scope="module")
def flatten_build(flatten_export, tmp_path_factory):
    """The flattened 6x6 head, built to the RTL simulation on 8 random images."""
    net, path = flatten_export
    folder = tmp_path_factory.mktemp("dense_build")
    proc = run_cli("build", "--model", path, "--part", "xc7z020", "--out", folder / "build", "--images", 8,
                   "--stop-step", "rtlsim", "--json")
    return net, path, folder / "build", proc


def _brevitas_equals_reference(net, path, build):
    from sqzfpga.model import reference

    x = np.load(build / "samples.npz")["images"]
    want = net(torch.from_numpy(x).float()).detach().numpy()
    np.testing.assert_array_equal(reference.run(reference.load(path), x), want)
    assert np.unique(want).size > 16, "outputs are degenerate; the comparison would prove little"


def test_flattened_map_into_dense_layers_exact_in_both_backends(flatten_build):
    """K = 6 (the whole 6x6 map, NCHW flatten order) then a 1x1 Dense; per-channel 8- and 4-bit weights."""
    net, path, build, proc = flatten_build
    summary = _summary(proc)
    assert summary["csim"]["exact"] is True, summary["csim"]
    assert json.loads((build / "rtlsim.json").read_text())["exact"] is True
    _brevitas_equals_reference(net, path, build)
    canon = onnx.load(str(build / "canonical.onnx")).graph.node
    fcs = [n for n in canon if n.op_type == "SqzFC"]
    assert [helper.get_attribute_value(next(a for a in n.attribute if a.name == "k")) for n in fcs] == [6, 1]
    scales = {t.name: numpy_helper.to_array(t) for t in onnx.load(path).graph.initializer}
    per_channel = [s for n, s in scales.items() if "weight_quant" in n and s.size > 1]
    assert len(per_channel) == 3 and all(np.unique(s).size > 1 for s in per_channel), per_channel


@pytest.mark.parametrize("head,layout", [("pool3", "nhwc"), ("gap", "nchw")])
def test_dense_heads_exact_in_c_simulation(tmp_path, head, layout):
    """K = 3 over a map qonnx made channels-last (the NHWC flatten order); a Dense after the global average pool."""
    net = dense_model(head)
    path = export(net, tmp_path / f"{head}.onnx")
    if layout == "nhwc":
        path = channels_last(path)
        assert "Flatten" in [n.op_type for n in onnx.load(path).graph.node]
    proc = run_cli("build", "--model", path, "--part", "xc7z020", "--out", tmp_path / "b", "--images", 8,
                   "--stop-step", "csim", "--json")
    assert _summary(proc)["csim"]["exact"] is True
    _brevitas_equals_reference(net, path, tmp_path / "b")


def test_per_channel_weights_widen_the_rom_words(flatten_build, tmp_path):
    """The per-tensor twin (same model, per-tensor weight quantizers): the per-channel build's weight words
    are wider by each layer's scale spread, and both the plan and the HLS fit count the wider memory."""
    _, path, build, proc = flatten_build
    twin = export(dense_model("flatten", per_channel=False), tmp_path / "twin.onnx")
    summary = _summary(run_cli("build", "--model", twin, "--part", "xc7z020", "--out", tmp_path / "b", "--stop-step",
                               "rtl", "--json"))

    def wbits(folder):
        return {u["name"]: u["wbits"] for u in json.loads((folder / "rtl" / "rtl.json").read_text())["plan"]["units"]
                if u["kind"] == "conv"}
    wide, narrow = wbits(build), wbits(tmp_path / "b")
    assert wide.keys() == narrow.keys() == {"l1_conv1", "l3_fc1", "l4_fc2"}
    assert narrow == {"l1_conv1": 8, "l3_fc1": 8, "l4_fc2": 4}
    assert all(wide[u] > narrow[u] for u in wide), (wide, narrow)
    assert _summary(proc)["hls"]["memory_bits"] > summary["hls"]["memory_bits"]


def _set_scale_element(node_name: str, value_of):
    """An edit: element 2 of the weight scale of the Quant feeding `node_name` becomes value_of(old)."""
    def edit(m):
        node = next(n for n in m.graph.node if n.name == node_name)
        quant = next(n for n in m.graph.node if n.output[0] == node.input[1])
        init = next(t for t in m.graph.initializer if t.name == quant.input[1])
        s = numpy_helper.to_array(init).copy()
        s.flat[2] = value_of(s.flat[2])
        init.CopyFrom(numpy_helper.from_array(s, init.name))
    return edit


def _gemm_attr(name, value):
    def edit(m):
        node = next(n for n in m.graph.node if n.op_type == "Gemm")
        kept = [a for a in node.attribute if a.name != name]
        del node.attribute[:]
        node.attribute.extend(kept + [helper.make_attribute(name, value)])
    return edit


def _bias_as_add(m):
    """The first Gemm's bias as a separate Add after it (as a MatMul + Add export writes a bias)."""
    node = next(n for n in m.graph.node if n.op_type == "Gemm")
    bias, out = node.input[2], node.output[0]
    del node.input[2]
    node.output[0] = out + "_nobias"
    m.graph.node.insert(list(m.graph.node).index(node) + 1,
                        helper.make_node("Add", [out + "_nobias", bias], [out], name="bias_add"))


@pytest.mark.parametrize("model,edit,needles", [
    ({}, _set_scale_element("/fc/fc.0/Gemm", lambda s: 0.3 * s),
     ["'/fc/fc.0/weight_quant/export_handler/Quant' (Quant)", "(element 2 of 16) is not a power of two",
      "Int8WeightPerChannelFixedPoint"]),
    ({}, _set_scale_element("/conv1/Conv", lambda s: 2.0 ** -40),
     ["'/conv1/weight_quant/export_handler/Quant'", "span 32 binary places", "need 40 bits", "per-tensor"]),
    ({}, _gemm_attr("transA", 1), ["'/fc/fc.0/Gemm' (Gemm)", "transA=1", "expected transA=0, alpha=1"]),
    ({}, _gemm_attr("alpha", 0.5), ["'/fc/fc.0/Gemm' (Gemm)", "alpha=0.5"]),
    ({"pad_rows": 2}, None, ["'/fc/fc.0/Gemm' (Gemm)", "flattened 7x6 map", "square map (H == W)"]),
    ({"out_quant": False}, None, ["dense layer at node '/fc/fc.2/Gemm'", "output is not quantized", "QuantIdentity"]),
    ({}, _gemm_attr("transA", 1), ["reference executor", "transA=1"]),
    ({}, _bias_as_add, ["'bias_add' (Add)", "adds a constant", "QuantLinear with bias=True"]),
], ids=["scale-not-power-of-two", "scale-spread-too-wide", "gemm-transA", "gemm-alpha", "non-square-map",
        "unquantized-output", "eval-gemm-transA", "bias-as-add"])
def test_unsupported_dense_models_get_one_line(flatten_export, tmp_path, fmnist_dir, model, edit, needles):
    path = str(tmp_path / "m.onnx")
    if model:
        export(dense_model(**model), path)
    else:
        m = onnx.load(flatten_export[1])
        edit(m)
        onnx.save(m, path)
    args = (["eval", "--model", path, "--data", fmnist_dir, "--limit", 8] if needles[0] == "reference executor"
            else ["build", "--model", path, "--out", tmp_path / "b"])
    assert_clean_error(run_cli(*args), *needles)
    assert not (tmp_path / "b").exists()


def test_matmul_lowers_like_gemm(flatten_export, tmp_path):
    """A MatMul (weights N x O) over the flattened map is the same Dense layer as the Gemm (transB=1,
    weights O x N) it replaces, and the reference executor computes both alike (both without bias: a
    MatMul has none)."""
    from sqzfpga.layers import lower
    from sqzfpga.model import reference

    paths = {}
    for op in ("Gemm", "MatMul"):
        m = onnx.load(flatten_export[1])
        node = next(n for n in m.graph.node if n.name == "/fc/fc.0/Gemm")
        del node.input[2]
        if op == "MatMul":
            quant = next(n for n in m.graph.node if n.output[0] == node.input[1])
            for t in m.graph.initializer:
                if t.name in quant.input[:2]:  # the weights and their per-channel scales, transposed
                    t.CopyFrom(numpy_helper.from_array(numpy_helper.to_array(t).T.copy(), t.name))
            node.op_type = "MatMul"
            del node.attribute[:]
        paths[op] = tmp_path / f"{op}.onnx"
        onnx.save(m, str(paths[op]))
    models = {op: reference.load(p) for op, p in paths.items()}
    fcs = {op: [n for n in lower(m)[0].graph.node if n.op_type == "SqzFC"][0] for op, m in models.items()}
    assert fcs["Gemm"].SerializeToString() == fcs["MatMul"].SerializeToString()
    assert "b" not in {a.name for a in fcs["MatMul"].attribute}
    x = images(8, 5)
    np.testing.assert_array_equal(reference.run(models["MatMul"], x), reference.run(models["Gemm"], x))
