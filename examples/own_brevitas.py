"""Your own Brevitas model through sqzfpga: a small SqueezeNet written with plain torch + brevitas.nn.

The model is the user's: no sqzfpga class or helper except `sqzfpga.model.fold_batchnorm`. It takes
inputs scaled to [0, 1] (image bytes / 255), has a BatchNorm after every conv, per-channel
power-of-two weight scales and a Dense head (torch.flatten + QuantLinear). The recipe:

    float training with BatchNorm (quantizers off)
    -> model.eval(); fold_batchnorm(model)           (BN folded into the convs: the graph has none)
    -> calibrate the activation quantizers            (brevitas.graph.calibrate.calibration_mode)
    -> quantization-aware fine-tuning (QAT)
    -> export_qonnx, with the preprocessing (bytes * 1/255) stated once, in the file's metadata

then `python -m sqzfpga build --model OUT ...` (the commands are printed at the end).

Head: flatten the 6x6 map into a QuantLinear rather than global average pooling + QuantLinear: a 6x6
map still says where a feature is (a sleeve, a heel), which Fashion-MNIST's classes differ by; pooling
it away first needs more channels and epochs for the same accuracy. Its 11,520 weights fit on chip.

    python examples/own_brevitas.py --data ../shared/data/fashion-mnist --out own.onnx
"""
from __future__ import annotations

import argparse
import gzip
import sys
import time
import warnings
from pathlib import Path

IDX = {"train": ("train-images-idx3-ubyte.gz", "train-labels-idx1-ubyte.gz"),
       "test": ("t10k-images-idx3-ubyte.gz", "t10k-labels-idx1-ubyte.gz")}
INPUT_SCALE = 1 / 255  # the preprocessing the model is trained on: x = byte / 255, in [0, 1]
CALIBRATION = 2000  # training images that set the activation scales


class UsageError(Exception):
    """A bad argument or input file: printed as one `error:` line."""


def parse_args(argv):
    p = argparse.ArgumentParser(prog="python examples/own_brevitas.py", description=__doc__.split("\n\n")[0])
    p.add_argument("--data", required=True, help="Fashion-MNIST folder with the four IDX .gz files")
    p.add_argument("--out", required=True, help="QONNX file to write (.onnx)")
    p.add_argument("--epochs", type=int, default=2, help="float training epochs, with BatchNorm (default 2)")
    p.add_argument("--qat-epochs", type=int, default=1, help="quantization-aware fine-tuning epochs, BN folded (default 1)")
    p.add_argument("--limit", type=int, default=20000, help="training images used, 0 for all (default 20000)")
    p.add_argument("--test-limit", type=int, default=0, help="test images for the accuracy, 0 for all (default 0)")
    p.add_argument("--batch-size", type=int, default=64, help="images per training step (default 64)")
    p.add_argument("--lr", type=float, default=3e-3, help="peak learning rate of AdamW's one-cycle schedule (default 3e-3)")
    p.add_argument("--seed", type=int, default=0, help="seed of the initial weights and the shuffling (default 0)")
    p.add_argument("--save-outputs", metavar="NPZ",
                   help="also write the quantized model's scores and labels on the test images (npz)")
    args = p.parse_args(argv)
    for name in ("epochs", "qat_epochs", "limit", "test_limit"):
        if getattr(args, name) < 0:
            p.error(f"--{name.replace('_', '-')} {getattr(args, name)}: expected 0 or more")
    if args.batch_size < 2:  # BatchNorm needs more than one value per channel
        p.error(f"--batch-size {args.batch_size}: expected 2 or more")
    if not args.lr > 0:
        p.error(f"--lr {args.lr}: expected a positive number")
    if not args.out.endswith(".onnx"):
        p.error(f"--out {args.out}: expected a .onnx file name (a QONNX export)")
    if args.save_outputs and not args.save_outputs.endswith(".npz"):
        p.error(f"--save-outputs {args.save_outputs}: expected a .npz file name")
    return args


def read_idx(folder: Path, split: str, limit: int):
    """(uint8 N x 1 x 28 x 28 images, int64 labels) from the gzipped IDX files of one split."""
    import numpy as np

    arrays = []
    for name in IDX[split]:
        path = folder / name
        if not path.is_file():
            raise UsageError(f"--data {folder}: {name} not found; expected the Fashion-MNIST IDX files "
                             f"({', '.join(n for pair in IDX.values() for n in pair)})")
        try:
            raw = gzip.open(path).read()
        except (OSError, EOFError) as e:
            raise UsageError(f"--data {folder}: {name} is not a readable gzip file ({e})") from None
        dims = raw[3] if len(raw) > 4 else 0
        header = 4 + 4 * dims
        shape = tuple(int.from_bytes(raw[4 + 4 * i:8 + 4 * i], "big") for i in range(dims))
        if raw[:3] != b"\0\0\x08" or len(raw) != header + int(np.prod(shape)):
            raise UsageError(f"--data {folder}: {name} is not an IDX file of unsigned bytes")
        arrays.append(np.frombuffer(raw, np.uint8, offset=header).reshape(shape))
    images, labels = arrays
    if images.shape[1:] != (28, 28) or len(images) != len(labels):
        raise UsageError(f"--data {folder}: {IDX[split][0]} holds {images.shape}, expected N x 28 x 28 images "
                         f"and one label each")
    n = len(images) if limit == 0 else min(limit, len(images))
    return images[:n, None].copy(), labels[:n].astype(np.int64)


def build_model():
    """The user's model: [0, 1] input -> conv 3x3/2 + BN + ReLU -> max pool 3/2 -> Fire -> Fire ->
    flatten (6 x 6 x 32) -> QuantLinear -> signed 8-bit scores. Every quantizer is fixed point
    (power-of-two scales); weights per output channel."""
    import torch
    from brevitas.nn import QuantConv2d, QuantIdentity, QuantLinear, QuantReLU
    from brevitas.quant import (Int8ActPerTensorFixedPoint, Int8BiasPerTensorFixedPointInternalScaling,
                                Uint8ActPerTensorFixedPoint)
    from brevitas.quant.fixed_point import Int8WeightPerChannelFixedPoint
    from torch import nn

    def conv(cin, cout, k, **kw):  # followed by a BatchNorm: a plain tensor out, the ReLU quantizes
        return QuantConv2d(cin, cout, k, bias=True, weight_quant=Int8WeightPerChannelFixedPoint,
                           bias_quant=Int8BiasPerTensorFixedPointInternalScaling, **kw)

    def relu():
        return QuantReLU(act_quant=Uint8ActPerTensorFixedPoint, return_quant_tensor=True)

    class Fire(nn.Module):
        def __init__(self, cin, squeeze, expand):
            super().__init__()  # each BN registered right after its conv (what fold_batchnorm looks for)
            self.squeeze, self.squeeze_bn, self.squeeze_relu = conv(cin, squeeze, 1), nn.BatchNorm2d(squeeze), relu()
            self.expand1, self.expand1_bn = conv(squeeze, expand, 1), nn.BatchNorm2d(expand)
            self.expand3, self.expand3_bn = conv(squeeze, expand, 3, padding=1), nn.BatchNorm2d(expand)
            self.expand_relu = relu()  # one quantizer for both branches: the concat needs one scale

        def forward(self, x):
            x = self.squeeze_relu(self.squeeze_bn(self.squeeze(x)))
            return torch.cat([self.expand_relu(self.expand1_bn(self.expand1(x))),
                              self.expand_relu(self.expand3_bn(self.expand3(x)))], 1)

    class Net(nn.Module):
        def __init__(self):
            super().__init__()
            self.inp = QuantIdentity(act_quant=Uint8ActPerTensorFixedPoint, return_quant_tensor=True)
            self.conv1, self.bn1, self.relu1 = conv(1, 16, 3, stride=2), nn.BatchNorm2d(16), relu()
            self.pool = nn.MaxPool2d(3, 2, ceil_mode=True)
            self.fire1, self.fire2 = Fire(16, 8, 16), Fire(32, 8, 16)
            self.fc = QuantLinear(6 * 6 * 32, 10, bias=True, weight_quant=Int8WeightPerChannelFixedPoint,
                                  bias_quant=Int8BiasPerTensorFixedPointInternalScaling, return_quant_tensor=True)
            self.out = QuantIdentity(act_quant=Int8ActPerTensorFixedPoint)

        def forward(self, x):
            x = self.pool(self.relu1(self.bn1(self.conv1(self.inp(x)))))
            x = self.fire2(self.fire1(x))
            return self.out(self.fc(torch.flatten(x, 1)))

    return Net()


def batches(images, labels, batch_size, rng=None):
    """Float inputs in [0, 1] (the stated preprocessing) and labels (or None); shuffled when rng is given."""
    import numpy as np
    import torch

    order = rng.permutation(len(images)) if rng is not None else np.arange(len(images))
    for i in range(0, len(order), batch_size):
        idx = order[i:i + batch_size]
        if rng is not None and len(idx) < 2:  # a one-image batch: BatchNorm in training mode cannot take it
            continue
        yield (torch.from_numpy(images[idx]).float() * INPUT_SCALE,
               torch.from_numpy(labels[idx]) if labels is not None else None)


def train(model, data, epochs, args, rng, phase):
    """AdamW with a one-cycle schedule over the run's own length; a progress line per epoch."""
    import torch

    if epochs == 0:
        return
    images, labels = data
    steps = epochs * max(1, len(images) // args.batch_size)
    opt = torch.optim.AdamW(model.parameters(), lr=args.lr, weight_decay=1e-4)
    sched = torch.optim.lr_scheduler.OneCycleLR(opt, max_lr=args.lr, total_steps=steps + epochs, pct_start=0.2)
    loss_fn = torch.nn.CrossEntropyLoss(label_smoothing=0.05)
    model.train()
    for epoch in range(epochs):
        t0, total, n = time.time(), 0.0, 0
        for x, y in batches(images, labels, args.batch_size, rng):
            loss = loss_fn(model(x), y)
            opt.zero_grad()
            loss.backward()
            opt.step()
            sched.step()
            total, n = total + loss.item() * len(y), n + len(y)
        print(f"[{phase}] epoch {epoch + 1}/{epochs}: loss {total / max(n, 1):.4f} ({time.time() - t0:.0f} s)",
              flush=True)


def scores(model, images, batch_size=500):
    """The model's outputs on uint8 images (float32 numpy), in eval mode."""
    import numpy as np
    import torch

    model.eval()
    with torch.no_grad():
        return np.concatenate([model(x).numpy() for x, _ in batches(images, None, batch_size)])


def export(model, path: Path) -> None:
    """QONNX export, with the preprocessing written once into the file's metadata (the build reads it)."""
    import onnx
    import torch
    from brevitas.export import export_qonnx

    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        export_qonnx(model, input_t=torch.zeros(1, 1, 28, 28), export_path=str(path), dynamo=False)
    m = onnx.load(str(path))
    m.metadata_props.add(key="sqzfpga.input_scale", value=repr(INPUT_SCALE))  # x = byte * 1/255
    onnx.save(m, str(path))


def main(argv=None) -> int:
    args = parse_args(argv)
    try:
        run(args)
    except UsageError as e:
        print(f"error: {e}", file=sys.stderr)
        return 2
    return 0


def run(args) -> None:
    import numpy as np

    folder, out = Path(args.data), Path(args.out)
    if not folder.is_dir():
        raise UsageError(f"--data {folder}: not a folder; expected the Fashion-MNIST IDX files")
    if not out.parent.is_dir():
        raise UsageError(f"--out {out}: folder {out.parent} does not exist; create it first")
    train_set, test_set = read_idx(folder, "train", args.limit), read_idx(folder, "test", args.test_limit)
    print(f"data: {len(train_set[0])} training and {len(test_set[0])} test images from {folder}", flush=True)

    import torch
    warnings.filterwarnings("ignore", "fast_hadamard_transform")  # brevitas's optional kernels, unused here
    from brevitas.graph.calibrate import calibration_mode, quantization_status_manager

    from sqzfpga.model import fold_batchnorm

    torch.manual_seed(args.seed)
    rng = np.random.default_rng(args.seed)
    t0 = time.time()
    model = build_model()
    with quantization_status_manager(model, disable_act_quant=True, disable_weight_quant=True,
                                     disable_bias_quant=True, is_training=True):
        train(model, train_set, args.epochs, args, rng, "float")
        float_acc = float((scores(model, test_set[0]).argmax(1) == test_set[1]).mean())
    print(f"[float] test accuracy {float_acc:.4f} (with BatchNorm)", flush=True)

    model.eval()
    fold_batchnorm(model)  # BN -> the convs' weights and biases; before calibration and QAT (they see them)
    calib = (train_set[0][:CALIBRATION], train_set[1][:CALIBRATION])
    with torch.no_grad(), calibration_mode(model):
        for x, _ in batches(*calib, 250):
            model(x)
    print(f"[calibrate] activation scales from {len(calib[0])} training images", flush=True)
    train(model, train_set, args.qat_epochs, args, rng, "qat")
    y = scores(model, test_set[0])
    acc = float((y.argmax(1) == test_set[1]).mean())
    print(f"[brevitas] quantized test accuracy {acc:.4f} on {len(y)} t10k images "
          f"({time.time() - t0:.0f} s training)", flush=True)
    if args.save_outputs:
        np.savez_compressed(args.save_outputs, scores=y, labels=test_set[1])

    export(model, out)
    print(f"wrote {out} (QONNX; metadata sqzfpga.input_scale = 1/255: the build feeds it bytes / 255)")
    print("next:\n"
          f"  python -m sqzfpga build --model {out} --part xc7z020 --out build-own --data {folder} --images 200\n"
          "  python -m sqzfpga rtlsim --build build-own --images 20")


if __name__ == "__main__":
    sys.exit(main())
