"""Dataset readers: IDX (checked headers), CIFAR-10 python batches, image folders."""
import gzip
import pickle
import struct

import numpy as np
import pytest

from sqzfpga.errors import UserError
from sqzfpga.model import data


def write_idx(path, array, magic=None):
    arr = np.asarray(array, np.uint8)
    header = magic if magic is not None else struct.pack(">HBB", 0, 8, arr.ndim)
    body = header + struct.pack(f">{arr.ndim}I", *arr.shape) + arr.tobytes()
    path.write_bytes(gzip.compress(body) if path.suffix == ".gz" else body)


def make_idx_dataset(root, n=12, gz=True):
    ext = ".gz" if gz else ""
    rng = np.random.default_rng(0)
    for split, prefix in [("train", "train"), ("test", "t10k")]:
        write_idx(root / f"{prefix}-images-idx3-ubyte{ext}", rng.integers(0, 256, (n, 28, 28)))
        write_idx(root / f"{prefix}-labels-idx1-ubyte{ext}", np.arange(n) % 10)


def test_shared_fashion_mnist(fmnist_dir):
    test = data.load(fmnist_dir, "test")
    assert test.images.shape == (10_000, 1, 28, 28) and test.images.dtype == np.uint8
    assert np.bincount(test.labels).tolist() == [1000] * 10
    assert len(data.load(fmnist_dir, "train")) == 60_000


@pytest.mark.parametrize("gz", [True, False])
def test_idx_round_trip(tmp_path, gz):
    make_idx_dataset(tmp_path, gz=gz)
    ds = data.load(tmp_path, "train")
    assert ds.images.shape == (12, 1, 28, 28) and ds.labels.tolist() == [i % 10 for i in range(12)]


def test_idx_wrong_header(tmp_path):
    make_idx_dataset(tmp_path)
    write_idx(tmp_path / "t10k-images-idx3-ubyte.gz", np.zeros((2, 28, 28)), magic=b"\x00\x00\x0d\x03")
    with pytest.raises(UserError, match="t10k-images-idx3-ubyte.gz: header magic"):
        data.load(tmp_path, "test")


def test_idx_truncated(tmp_path):
    make_idx_dataset(tmp_path, gz=False)
    p = tmp_path / "train-images-idx3-ubyte"
    p.write_bytes(p.read_bytes()[:-100])
    with pytest.raises(UserError, match="truncated"):
        data.load(tmp_path, "train")


def test_corrupt_gzip(tmp_path):
    make_idx_dataset(tmp_path)
    (tmp_path / "train-labels-idx1-ubyte.gz").write_bytes(b"not gzip at all")
    with pytest.raises(UserError, match="train-labels-idx1-ubyte.gz: cannot be read"):
        data.load(tmp_path, "train")


def test_cifar10_batches(tmp_path):
    rng = np.random.default_rng(0)
    for name in [f"data_batch_{i}" for i in range(1, 6)] + ["test_batch"]:
        d = {b"data": rng.integers(0, 256, (4, 3072), dtype=np.uint8), b"labels": [0, 1, 2, 3]}
        (tmp_path / name).write_bytes(pickle.dumps(d))
    (tmp_path / "batches.meta").write_bytes(pickle.dumps({b"label_names": [b"a", b"b", b"c", b"d"]}))
    tr = data.load(tmp_path, "train")
    assert tr.images.shape == (20, 3, 32, 32) and tr.classes[:4] == ["a", "b", "c", "d"]
    (tmp_path / "test_batch").write_bytes(b"garbage")
    with pytest.raises(UserError, match="test_batch"):
        data.load(tmp_path, "test")


def test_image_folder(tmp_path):
    from PIL import Image

    for split in ("train", "test"):
        for cls in ("cat", "dog"):
            d = tmp_path / split / cls
            d.mkdir(parents=True)
            for i in range(3):
                Image.fromarray(np.full((40, 50, 3), 60 * i, np.uint8)).save(d / f"{i}.png")
    ds = data.load(tmp_path, "test", channels=3, size=32)
    assert ds.images.shape == (6, 3, 32, 32) and ds.classes == ["cat", "dog"] and ds.labels.tolist() == [0] * 3 + [1] * 3
    (tmp_path / "test" / "dog" / "bad.png").write_bytes(b"not an image")
    with pytest.raises(UserError, match="bad.png: cannot be decoded"):
        data.load(tmp_path, "test", channels=3, size=32)


def test_missing_dataset(tmp_path):
    with pytest.raises(UserError, match="no such file"):
        data.load(tmp_path / "nope", "test")


def test_shape_mismatch(fmnist_dir):
    with pytest.raises(UserError, match="1 channel.*expects 3"):
        data.load(fmnist_dir, "test", channels=3)


# ---- the command line: a folder missing one split names the file or folder (about 2 s each) ------------
def test_idx_folder_without_test_files_names_the_missing_file(tmp_path):
    from conftest import assert_clean_error, run_cli

    make_idx_dataset(tmp_path)
    for p in tmp_path.glob("t10k-*"):
        p.unlink()
    assert_clean_error(run_cli("eval", "--data", tmp_path), "t10k-images-idx3-ubyte.gz", "test split",
                       "train-images-idx3-ubyte.gz")
    # the split that is there still loads
    assert run_cli("eval", "--data", tmp_path, "--split", "train").returncode == 0


def test_image_folder_with_train_only_names_the_missing_folder(tmp_path):
    from conftest import assert_clean_error, image_folder, run_cli

    image_folder(tmp_path, per_class=1, size=28)
    for p in sorted((tmp_path / "test").rglob("*"), reverse=True):
        p.unlink() if p.is_file() else p.rmdir()
    (tmp_path / "test").rmdir()
    assert_clean_error(run_cli("eval", "--data", tmp_path), "has train/ but no test/ folder")
