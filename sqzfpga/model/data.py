"""Datasets from standard files, as uint8 NCHW arrays (what the accelerator sees) and int64 labels.

Formats: gzipped or plain IDX (MNIST / Fashion-MNIST), CIFAR-10 python batches, and an image folder
(one sub-folder per class, optionally under train/ and test/).
"""
from __future__ import annotations

import gzip
import pickle
import struct
import zlib
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from sqzfpga.errors import UserError

SPLITS = ("train", "test")
IMAGE_SUFFIXES = {".png", ".jpg", ".jpeg", ".bmp", ".gif", ".ppm", ".pgm", ".tif", ".tiff", ".webp"}


@dataclass
class Dataset:
    images: np.ndarray  # uint8, N x C x H x W
    labels: np.ndarray  # int64, N
    classes: list[str]
    source: str

    def __len__(self):
        return len(self.labels)

    def subset(self, limit: int | None, option: str = "--limit", log=None) -> "Dataset":
        """The first `limit` images; `log` is told when the split has fewer than `option` asked for."""
        if limit is not None and limit < 1:
            raise UserError(f"{option} {limit}: expected a positive number of images")
        if limit is not None and limit > len(self) and log is not None:
            log(f"warning: {option} {limit}: {self.source} holds only {len(self)} images; using those {len(self)}")
        if limit is None or limit >= len(self):
            return self
        return Dataset(self.images[:limit], self.labels[:limit], self.classes, self.source)


def load(path: str | Path, split: str = "test", channels: int | None = None, size: int | None = None) -> Dataset:
    """Load a split from a dataset folder; channels/size adapt image folders to the model's input."""
    root = Path(path)
    if split not in SPLITS:
        raise UserError(f"dataset split {split!r}; expected one of {SPLITS}")
    if not root.exists():
        raise UserError(f"dataset {root}: no such file or folder; point --data at a Fashion-MNIST/MNIST "
                        "IDX folder, a CIFAR-10 python folder or an image folder")
    if not root.is_dir():
        raise UserError(f"dataset {root}: is a file; expected a folder holding the dataset files")
    if _idx_file(root, split, "images"):
        ds = _load_idx(root, split)
    elif any(_idx_file(root, other, kind) for other in SPLITS for kind in ("images", "labels")):
        gz = ".gz" if _idx_present(root).endswith(".gz") else ""
        raise UserError(f"dataset {root}: {_idx_stem(split, 'images')}{gz} (the {split} split's images) is missing; "
                        f"the folder holds {_idx_present(root)}; add it beside them")
    elif (root / "data_batch_1").exists() or (root / "test_batch").exists():
        ds = _load_cifar(root, split)
    else:
        ds = _load_image_folder(root, split, channels, size)
    _check_shape(ds, channels, size)
    return ds


def _check_shape(ds: Dataset, channels, size):
    _, c, h, w = ds.images.shape
    if channels is not None and c != channels:
        raise UserError(f"dataset {ds.source}: images have {c} channel(s); the model expects {channels}; "
                        "use a model built for this dataset (--preset/--in-channels)")
    if size is not None and (h != size or w != size):
        raise UserError(f"dataset {ds.source}: images are {h}x{w}; the model expects {size}x{size}; "
                        "use a model with --input-size matching the data")


# ---- IDX ------------------------------------------------------------------------------------------
_IDX_NAMES = {"train": "train", "test": "t10k"}


def _idx_stem(split: str, kind: str) -> str:
    return f"{_IDX_NAMES[split]}-{kind}-idx{3 if kind == 'images' else 1}-ubyte"


def _idx_present(root: Path) -> str:
    return ", ".join(p.name for sp in SPLITS for kind in ("images", "labels") if (p := _idx_file(root, sp, kind)))


def _idx_file(root: Path, split: str, kind: str) -> Path | None:
    stem = _idx_stem(split, kind)
    for cand in (root / f"{stem}.gz", root / stem):
        if cand.exists():
            return cand
    return None


def read_idx(path: Path, ndim: int) -> np.ndarray:
    """Read an IDX file of unsigned bytes, checking magic, rank and length against the header."""
    try:
        opener = gzip.open if path.suffix == ".gz" else open
        with opener(path, "rb") as f:
            raw = f.read()
    except (OSError, EOFError, zlib.error) as e:
        raise UserError(f"IDX file {path}: cannot be read ({e}); expected a (gzipped) IDX file; "
                        "re-download or restore it") from None
    if len(raw) < 4 + 4 * ndim:
        raise UserError(f"IDX file {path}: {len(raw)} bytes, too short for a header; expected an IDX file")
    zero, dtype, rank = struct.unpack(">HBB", raw[:4])
    if zero != 0 or dtype != 0x08 or rank != ndim:
        raise UserError(f"IDX file {path}: header magic {raw[:4].hex()}; expected 000008{ndim:02x} "
                        f"(unsigned bytes, {ndim} dimension(s)); is this the right file?")
    dims = struct.unpack(f">{ndim}I", raw[4:4 + 4 * ndim])
    body = raw[4 + 4 * ndim:]
    expected = int(np.prod(dims))
    if len(body) != expected:
        raise UserError(f"IDX file {path}: header says {dims} = {expected} bytes of data, file has {len(body)}; "
                        "the file is truncated or corrupt")
    return np.frombuffer(body, dtype=np.uint8).reshape(dims)


def _load_idx(root: Path, split: str) -> Dataset:
    img_path, lbl_path = _idx_file(root, split, "images"), _idx_file(root, split, "labels")
    if lbl_path is None:
        raise UserError(f"dataset {root}: {img_path.name} has no labels file beside it; expected "
                        f"{_idx_stem(split, 'labels')}(.gz)")
    images, labels = read_idx(img_path, 3), read_idx(lbl_path, 1)
    if len(images) != len(labels):
        raise UserError(f"dataset {root}: {len(images)} images but {len(labels)} labels in the {split} split")
    classes = [str(i) for i in range(int(labels.max()) + 1)] if len(labels) else []
    return Dataset(images[:, None].copy(), labels.astype(np.int64), classes, str(img_path))


# ---- CIFAR-10 ------------------------------------------------------------------------------------
def _load_cifar(root: Path, split: str) -> Dataset:
    names = [f"data_batch_{i}" for i in range(1, 6)] if split == "train" else ["test_batch"]
    xs, ys = [], []
    for name in names:
        p = root / name
        if not p.exists():
            raise UserError(f"CIFAR-10 folder {root}: {name} is missing; expected data_batch_1..5 and test_batch")
        try:
            with open(p, "rb") as f:
                d = _NumpyOnlyUnpickler(f, encoding="bytes").load()
            x = np.asarray(d[b"data"], dtype=np.uint8).reshape(-1, 3, 32, 32)
            y = np.asarray(d[b"labels"], dtype=np.int64)
            if len(x) != len(y) or (len(y) and (y.min() < 0 or y.max() > 255)):
                raise ValueError("labels do not match the images")
        except Exception as e:  # unpickling raises many types on corrupt input
            raise UserError(f"CIFAR-10 batch {p}: cannot be read ({type(e).__name__}); expected a CIFAR-10 "
                            "python-version batch file") from None
        xs.append(x)
        ys.append(y)
    meta = root / "batches.meta"
    classes = [str(i) for i in range(10)]
    if meta.exists():
        try:
            with open(meta, "rb") as f:
                classes = [c.decode() for c in _NumpyOnlyUnpickler(f, encoding="bytes").load()[b"label_names"]]
        except Exception:
            pass
    return Dataset(np.concatenate(xs), np.concatenate(ys), classes, str(root))


class _NumpyOnlyUnpickler(pickle.Unpickler):
    """CIFAR batches are pickles: allow the numpy array machinery and nothing else (no code execution)."""

    def find_class(self, module, name):
        if module.split(".")[0] == "numpy" and name in {"_reconstruct", "ndarray", "dtype", "scalar"}:
            return super().find_class(module, name)
        raise pickle.UnpicklingError(f"{module}.{name} is not allowed in a dataset file")


# ---- image folder --------------------------------------------------------------------------------
def _load_image_folder(root: Path, split: str, channels, size) -> Dataset:
    from PIL import Image, UnidentifiedImageError

    other = next(sp for sp in SPLITS if sp != split)
    if (root / other).is_dir() and not (root / split).is_dir():
        raise UserError(f"image folder {root}: has {other}/ but no {split}/ folder; expected {split}/<class>/ image "
                        f"folders beside {other}/ (or class folders directly in {root} for both splits)")
    base = root / split if (root / split).is_dir() else root
    # class indices come from the training folder, so both splits number classes alike
    train_base = root / "train" if (root / "train").is_dir() else base
    classes = sorted(d.name for d in train_base.iterdir() if d.is_dir() and d.name not in SPLITS)
    extra = sorted(d.name for d in base.iterdir() if d.is_dir() and d.name not in SPLITS and d.name not in classes)
    if extra:
        raise UserError(f"image folder {base}: classes {extra} are not in {train_base}; both splits need the "
                        "same class folders")
    class_dirs = [base / c for c in classes if (base / c).is_dir()]
    if not class_dirs:
        raise UserError(f"dataset {root}: no IDX files, no CIFAR-10 batches and no class sub-folders; expected "
                        "one of those formats")
    if size is None:
        raise UserError(f"image folder {root}: the input size is unknown; give a model or --input-size")
    mode = {1: "L", 3: "RGB"}.get(channels or 3)
    if mode is None:
        raise UserError(f"image folder {root}: images can feed 1 or 3 input channels, not {channels}")
    xs, ys = [], []
    for d in class_dirs:
        label = classes.index(d.name)
        for p in sorted(d.iterdir()):
            if p.suffix.lower() not in IMAGE_SUFFIXES:
                continue
            try:
                with Image.open(p) as im:
                    im = im.convert(mode).resize((size, size), Image.BILINEAR)
                    arr = np.asarray(im, dtype=np.uint8)
            except (UnidentifiedImageError, OSError) as e:
                raise UserError(f"image {p}: cannot be decoded ({e}); remove or replace it") from None
            xs.append(arr[None] if arr.ndim == 2 else arr.transpose(2, 0, 1))
            ys.append(label)
    if not xs:
        raise UserError(f"image folder {base}: class folders hold no images ({', '.join(sorted(IMAGE_SUFFIXES))})")
    return Dataset(np.stack(xs), np.asarray(ys, np.int64), classes, str(base))
