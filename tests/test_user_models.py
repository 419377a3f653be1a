"""Models as Brevitas users write and export them (no sqzfpga classes, `export_qonnx` as is), through the
CLI: weights that are also graph inputs, Identity/Dropout leftovers and a view() flatten are
normalised by qonnx's transformations and build exact; a BatchNorm, a QuantTensor output, a training
Dropout and a dynamo export (ReduceMean) get one error line naming the node and what to change. About
42 s on 2 quiet cores (the build to the C simulation 16 s; a run to the samples step 2 s; six error runs 3-6 s)."""
from __future__ import annotations

import json
import warnings

import numpy as np
import onnx
import pytest
from onnx import helper, numpy_helper

from conftest import assert_clean_error, run_cli

torch = pytest.importorskip("torch")
nn = torch.nn
pytestmark = pytest.mark.xdist_group("user_models")  # `user_build` is built once, on one worker
SIZE, CLASSES = 28, 10  # Fashion-MNIST's geometry, so `eval --data` runs on the shared split


def user_model(bn: bool = False, quant_tensor_out: bool = False):
    """A small SqueezeNet as a Brevitas user writes it: QuantConv2d, QuantReLU, torch.cat, fixed-point
    quantizers, a view() flatten; calibrated on random images (train-mode passes), returned in eval mode."""
    from brevitas.nn import QuantConv2d, QuantIdentity, QuantReLU
    from brevitas.quant import (Int8ActPerTensorFixedPoint, Int8BiasPerTensorFixedPointInternalScaling,
                                Int8WeightPerTensorFixedPoint, Uint8ActPerTensorFixedPoint)

    def conv(i, o, k, stride=1, padding=0, bias=True, out_quant=True):
        return QuantConv2d(i, o, k, stride=stride, padding=padding, bias=bias,
                           weight_quant=Int8WeightPerTensorFixedPoint,
                           bias_quant=Int8BiasPerTensorFixedPointInternalScaling, return_quant_tensor=out_quant)

    def relu(out_quant=True):
        return QuantReLU(act_quant=Uint8ActPerTensorFixedPoint, return_quant_tensor=out_quant)

    class Fire(nn.Module):
        def __init__(self, cin, squeeze, expand):
            super().__init__()
            self.squeeze, self.squeeze_relu = conv(cin, squeeze, 1), relu()
            self.expand1, self.expand3 = conv(squeeze, expand, 1), conv(squeeze, expand, 3, padding=1)
            self.expand_relu = relu()  # one quantizer for both branches: the concat stays exact

        def forward(self, x):
            x = self.squeeze_relu(self.squeeze(x))
            return torch.cat([self.expand_relu(self.expand1(x)), self.expand_relu(self.expand3(x))], 1)

    class Net(nn.Module):
        def __init__(self):
            super().__init__()
            self.inp = QuantIdentity(act_quant=Int8ActPerTensorFixedPoint, return_quant_tensor=True)
            self.conv1 = conv(1, 8, 3, stride=2, bias=not bn, out_quant=not bn)
            self.bn = nn.BatchNorm2d(8) if bn else nn.Identity()
            self.relu1 = relu()
            self.pool = nn.MaxPool2d(3, 2, ceil_mode=True)
            self.fire = Fire(8, 4, 8)
            self.classifier, self.relu2 = conv(16, CLASSES, 1), relu(out_quant=False)
            self.gap = nn.AdaptiveAvgPool2d(1)
            self.out = QuantIdentity(act_quant=Uint8ActPerTensorFixedPoint, return_quant_tensor=quant_tensor_out)

        def forward(self, x):
            x = self.pool(self.relu1(self.bn(self.conv1(self.inp(x)))))
            x = self.out(self.gap(self.relu2(self.classifier(self.fire(x)))))
            return x if quant_tensor_out else x.view(x.size(0), -1)

    return calibrated(Net)


def calibrated(net_class) -> nn.Module:
    """A seeded instance, its activation quantizers calibrated by train-mode passes on random images."""
    torch.manual_seed(0)
    net = net_class().train()
    with torch.no_grad():
        for seed in range(4):
            net(torch.from_numpy(images(32, seed)).float())
    return net.eval()


def images(n: int, seed: int) -> np.ndarray:
    return np.random.default_rng(seed).integers(0, 256, (n, 1, SIZE, SIZE), dtype=np.uint8)


def export(net, path, dynamo: bool = False) -> str:
    from brevitas.export import export_qonnx

    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        export_qonnx(net, input_t=torch.zeros(1, 1, SIZE, SIZE), export_path=str(path), dynamo=dynamo)
    return str(path)


@pytest.fixture(scope="module")
def user_build(tmp_path_factory):
    """The plain user export and its build (to the RTL simulation, 8 random images)."""
    folder = tmp_path_factory.mktemp("user")
    net = user_model()
    path = export(net, folder / "user.onnx")
    proc = run_cli("build", "--model", path, "--part", "xc7z020", "--out", folder / "build", "--images", 8,
                   "--stop-step", "rtlsim", "--json")
    return net, path, folder / "build", proc


def test_user_export_builds_exact(user_build):
    from sqzfpga.model import reference

    net, path, build, proc = user_build
    raw = onnx.load(path).graph
    assert len(raw.input) > 1  # the reported case: the weights are graph inputs too
    assert [n.op_type for n in raw.node][-1] == "Reshape"  # view() of the 1x1 class scores
    assert proc.returncode == 0, proc.stderr
    summary = json.loads(proc.stdout.strip().splitlines()[-1])
    assert summary["csim"]["exact"] is True, summary["csim"]
    # its signed input quantizer (scale 2 on raw bytes) is a table in hardware: the RTL read the bytes'
    # bits as int8 before (byte 200 as -56, not 100) and was not exact
    assert [n.op_type for n in onnx.load(str(build / "canonical.onnx")).graph.node][0] == "SqzTable"
    assert json.loads((build / "rtlsim.json").read_text())["exact"] is True
    # the normalised graph computes what Brevitas computes (on images other than the calibration's)
    x = np.load(build / "samples.npz")["images"]
    want = net(torch.from_numpy(x).float()).detach().numpy()
    np.testing.assert_array_equal(reference.run(reference.load(path), x), want)
    assert np.unique(want).size > 8, "outputs are degenerate; the comparison would prove little"


def _splice(model: onnx.ModelProto, after: str, op: str, extra: list[onnx.TensorProto]) -> None:
    """Insert `op` (extra inputs: initializers) on the tensor `after` of the first node of that op type."""
    g = model.graph
    src = next(n for n in g.node if n.op_type == after)
    name = f"{op}_after_{after}"
    for n in g.node:
        n.input[:] = [name if i == src.output[0] else i for i in n.input]
    g.initializer.extend(extra)
    g.node.insert(list(g.node).index(src) + 1, helper.make_node(op, [src.output[0], *[t.name for t in extra]],
                                                                 [name], name=name))


def test_identity_and_dropout_leftovers_lower_to_the_same_graph(user_build, tmp_path):
    """Identity, Dropout (ratio 0) and Dropout (no ratio) spliced in: qonnx's RemoveIdentityOps takes them
    out, and the canonical graph is byte-identical to the plain export's."""
    from sqzfpga.model import reference

    _, path, build, proc = user_build
    assert proc.returncode == 0, proc.stderr
    model = onnx.load(path)
    _splice(model, "MaxPool", "Identity", [])
    _splice(model, "Concat", "Dropout", [numpy_helper.from_array(np.array(0.0, np.float32), "ratio0")])
    _splice(model, "GlobalAveragePool", "Dropout", [])
    onnx.checker.check_model(model)
    onnx.save(model, str(tmp_path / "leftovers.onnx"))
    out = run_cli("build", "--model", tmp_path / "leftovers.onnx", "--out", tmp_path / "b", "--images", 8,
                  "--stop-step", "samples")
    assert out.returncode == 0, out.stderr
    assert (tmp_path / "b" / "canonical.onnx").read_bytes() == (build / "canonical.onnx").read_bytes()
    x = images(16, 9)
    loaded = reference.load(tmp_path / "leftovers.onnx")
    assert not {"Identity", "Dropout"} & {n.op_type for n in loaded.graph.node}
    np.testing.assert_array_equal(reference.run(loaded, x), reference.run(reference.load(path), x))


def _training_dropout(model: onnx.ModelProto) -> None:
    _splice(model, "MaxPool", "Dropout", [numpy_helper.from_array(np.array(0.5, np.float32), "ratio")])


def _almost_one_mul(model: onnx.ModelProto) -> None:
    """An Identity (so qonnx's RemoveIdentityOps runs) and a Mul it would drop although it is not exact."""
    _splice(model, "Concat", "Identity", [])
    _splice(model, "MaxPool", "Mul", [numpy_helper.from_array(np.array(1.000001, np.float32), "almost_one")])


@pytest.mark.parametrize("kind,edit,command,needles", [
    ("bn", None, "build", ["'/bn/BatchNormalization'", "BatchNormalization", "sqzfpga.model.fold_batchnorm(model)"]),
    ("bn", None, "eval", ["reference executor", "'/bn/BatchNormalization'", "sqzfpga.model.fold_batchnorm(model)"]),
    ("quant_tensor_out", None, "build", ["has 1 inputs and", "return_quant_tensor=False"]),
    ("plain", _training_dropout, "build", ["'Dropout_after_MaxPool'", "Dropout", "eval mode"]),
    ("dynamo", None, "build", ["(ReduceMean)", "dynamo=False"]),
    ("plain", _almost_one_mul, "eval", ["'Mul_after_MaxPool' (Mul)", "not exactly 1"]),
], ids=["batchnorm-build", "batchnorm-eval", "quanttensor-output", "dropout-ratio-0.5", "dynamo-export",
        "mul-almost-one"])
def test_unsupported_user_exports_get_one_line(kind, edit, command, needles, tmp_path, fmnist_dir):
    path = export(user_model(bn=kind == "bn", quant_tensor_out=kind == "quant_tensor_out"), tmp_path / "m.onnx",
                  dynamo=kind == "dynamo")
    if edit:
        model = onnx.load(path)
        edit(model)
        onnx.save(model, path)
    args = (["build", "--model", path, "--out", tmp_path / "b"] if command == "build"
            else ["eval", "--model", path, "--data", fmnist_dir, "--limit", 8])
    assert_clean_error(run_cli(*args), *needles)
    assert not (tmp_path / "b").exists()
