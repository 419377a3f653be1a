"""The sweep spec: a TOML file read into typed data, every mistake one UserError naming the file, the
key, what was expected and how to fix it (an unknown key, an empty list, bits outside 2..8, an unknown
part). Every combination of the [grid] lists is one `Trial`.

    [grid]                        # lists; every combination is one trial
    weight_bits = [2, 3, 4, 8]    # conv weights (conv1 and the classifier keep the default's 8 bits)
    act_bits = [8]                # activations
    width = [0.5, 0.75, 1.0]      # channel width multiplier of the default model
    part = ["xc7z020"]
    fps = [1000]                  # optional: frames/s to reach with the least hardware (default: the fastest plan)
    [grid.layer_act_bits]         # optional: activation bits per layer group (a layer name or a pattern)
    "fire*.squeeze" = [4, 8]
    [train]
    data = "../shared/data/fashion-mnist"
    qat_epochs = 1                # QAT epochs per trial, from the float weights of `init`
    init = "model.pt"             # optional: a checkpoint of the default family (default: the shipped model)
    limit = 2000                  # optional: training images (default: all); test_limit: test images
    [build]
    pareto = true                 # a full build (C simulation exact) of every Pareto point
    images = 200                  # its C simulation's images
    clock_mhz = 100               # the fabric clock of plans and builds
    [engine]
    cpus_per_trial = 1
    retries = 3                   # a trial whose worker dies runs again, up to this many times
    trial_timeout_s = 7200        # the sweep stops when no trial finishes for this long
"""
from __future__ import annotations

import fnmatch
import itertools
import re
import tomllib
from dataclasses import dataclass, fields
from pathlib import Path

from sqzfpga.errors import UserError
from sqzfpga.model.config import BIT_RANGE, preset
from sqzfpga.parts import PARTS, get_part

GRID_AXES = ("weight_bits", "act_bits", "width", "part", "fps", "layer_act_bits")


@dataclass(frozen=True)
class Trial:
    """One point of the grid."""
    weight_bits: int
    act_bits: int
    width: float
    part: str
    fps: float | None = None  # None: as fast as the part allows
    layer_act_bits: tuple[tuple[str, int], ...] = ()  # (layer name or pattern, bits)

    @property
    def id(self) -> str:
        """A file name that says the point: w4-a8-x0.75-xc7z020[-fps1000][-fire_.squeeze4]."""
        text = f"w{self.weight_bits}-a{self.act_bits}-x{self.width:g}-{self.part}"
        text += f"-fps{self.fps:g}" if self.fps else ""
        text += "".join(f"-{name}{bits}" for name, bits in self.layer_act_bits)
        return re.sub(r"[^A-Za-z0-9._-]", "_", text)

    def config(self):
        """The default model's config at this point (layer patterns expanded to the layer names)."""
        base = preset("default", width_mult=self.width)
        acts = {name: bits for pattern, bits in self.layer_act_bits
                for name in fnmatch.filter(base.layer_names()[1], pattern)}
        return preset("default", width_mult=self.width, weight_bits=self.weight_bits, act_bits=self.act_bits,
                      layer_act_bits=acts)

    def to_dict(self) -> dict:
        return {"id": self.id, "weight_bits": self.weight_bits, "act_bits": self.act_bits, "width": self.width,
                "part": self.part, "fps": self.fps, "layer_act_bits": dict(self.layer_act_bits)}


@dataclass(frozen=True)
class TrainSpec:
    data: Path
    init: Path | None = None  # None: the shipped default model
    qat_epochs: int = 1
    limit: int | None = None
    test_limit: int | None = None
    batch_size: int | None = None
    qat_lr: float = 1e-4
    seed: int = 0


@dataclass(frozen=True)
class BuildSpec:
    pareto: bool = True
    images: int = 200
    clock_mhz: float = 100.0


@dataclass(frozen=True)
class EngineSpec:
    cpus_per_trial: float = 1.0
    retries: int = 3
    trial_timeout_s: float = 7200.0


@dataclass(frozen=True)
class SweepSpec:
    path: Path
    trials: tuple[Trial, ...]
    train: TrainSpec
    build: BuildSpec
    engine: EngineSpec


SECTIONS = {"grid": GRID_AXES, "train": tuple(f.name for f in fields(TrainSpec)),
            "build": tuple(f.name for f in fields(BuildSpec)), "engine": tuple(f.name for f in fields(EngineSpec))}


def load(path: str | Path) -> SweepSpec:
    path = Path(path)
    if not path.is_file():
        raise UserError(f"--spec {path}: no such file; write a sweep spec (TOML, see `python -m sqzfpga sweep --help`)")
    try:
        doc = tomllib.loads(path.read_text())
    except (tomllib.TOMLDecodeError, UnicodeDecodeError) as e:
        raise UserError(f"sweep spec {path}: not valid TOML ({e}); fix the syntax") from None
    return parse(doc, path)


def parse(doc: dict, path: Path) -> SweepSpec:
    def bad(what: str, fix: str):
        return UserError(f"sweep spec {path}: {what}; {fix}")

    for section, value in doc.items():
        if section not in SECTIONS:
            raise bad(f"unknown section [{section}]", f"expected {', '.join(f'[{s}]' for s in SECTIONS)}")
        if not isinstance(value, dict):
            raise bad(f"{section} is not a section", f"write it as [{section}] with keys below it")
        for key in value:
            if key not in SECTIONS[section]:
                raise bad(f"unknown key {key!r} in [{section}]", f"expected one of {', '.join(SECTIONS[section])}")
    if "grid" not in doc or "train" not in doc:
        raise bad("needs a [grid] and a [train] section", "add them (see `python -m sqzfpga sweep --help`)")
    grid, tr = doc["grid"], doc["train"]

    def axis(key: str, kind, check, expected: str, default=None) -> list:
        values = grid.get(key, default)
        if values is None:
            raise bad(f"[grid] {key} is missing", f"give a list of {expected}")
        if not isinstance(values, list):
            raise bad(f"[grid] {key} = {values!r} is not a list", f"write a list, e.g. {key} = [{values!r}]")
        if not values:
            raise bad(f"[grid] {key} is empty", f"give at least one value ({expected})")
        for v in values:
            if not isinstance(v, kind) or isinstance(v, bool) or not check(v):
                raise bad(f"[grid] {key}: {v!r} is out of range", f"expected {expected}")
        return values

    lo, hi = BIT_RANGE
    in_bits = (lambda v: lo <= v <= hi, f"bit widths {lo}..{hi}")
    weight_bits = axis("weight_bits", int, *in_bits)
    act_bits = axis("act_bits", int, *in_bits)
    widths = axis("width", (int, float), lambda v: 0 < v <= 4, "width multipliers in (0, 4], e.g. 0.5")
    parts = axis("part", str, _known, f"parts: {', '.join(PARTS)}")
    fps = axis("fps", (int, float), lambda v: v > 0, "positive frames/s", default=[None]) if "fps" in grid else [None]
    groups = grid.get("layer_act_bits", {})
    if not isinstance(groups, dict):
        raise bad("[grid] layer_act_bits is not a table", 'write it as [grid.layer_act_bits] "fire*.squeeze" = [4, 8]')
    acts = preset("default").layer_names()[1]
    group_axes = []
    for pattern, values in groups.items():
        if not fnmatch.filter(acts, pattern):
            raise bad(f"[grid.layer_act_bits] {pattern!r} names no activation of the model",
                      f"use a name or pattern of {', '.join(acts[:4])}, ... (e.g. \"fire*.squeeze\")")
        if not isinstance(values, list) or not values:
            raise bad(f"[grid.layer_act_bits] {pattern!r} is {'empty' if values == [] else 'not a list'}",
                      f"give a list of bit widths {lo}..{hi}")
        if not all(isinstance(v, int) and not isinstance(v, bool) and lo <= v <= hi for v in values):
            raise bad(f"[grid.layer_act_bits] {pattern!r} = {values!r} is out of range",
                      f"expected bit widths {lo}..{hi}")
        group_axes.append([(pattern, v) for v in values])
    trials = tuple(Trial(wb, ab, float(w), get_part(p).name, None if f is None else float(f), tuple(g))
                   for wb, ab, w, p, f, *g in itertools.product(weight_bits, act_bits, widths, parts, fps, *group_axes))
    ids = [t.id for t in trials]
    if len(set(ids)) != len(ids):
        raise bad("[grid] lists a value twice", "give each value once")

    def value(section: dict, key: str, kind, check, expected: str, default):
        v = section.get(key, default)
        if v is default:
            return v
        if not isinstance(v, kind) or isinstance(v, bool) is not (kind is bool) or not check(v):
            raise bad(f"{key} = {v!r} is out of range", f"expected {expected}")
        return v

    if "data" not in tr:
        raise bad("[train] data is missing", "give the dataset folder, e.g. data = \"../shared/data/fashion-mnist\"")
    data = Path(value(tr, "data", str, bool, "a dataset folder", None)).resolve()
    if not data.is_dir():
        raise bad(f"[train] data = {tr['data']!r}: no such folder", "give the dataset folder (relative paths are from "
                  "where the command runs)")
    init = tr.get("init")
    if init is not None:
        init = Path(value(tr, "init", str, bool, "a checkpoint file", None)).resolve()
        if not init.is_file():
            raise bad(f"[train] init = {tr['init']!r}: no such file", "give a checkpoint of the default model family")
    count = (lambda v: v >= 1, "a positive integer")
    train = TrainSpec(data=data, init=init,
                      qat_epochs=value(tr, "qat_epochs", int, lambda v: v >= 0, "QAT epochs >= 0", 1),
                      limit=value(tr, "limit", int, *count, None),
                      test_limit=value(tr, "test_limit", int, *count, None),
                      batch_size=value(tr, "batch_size", int, *count, None),
                      qat_lr=value(tr, "qat_lr", (int, float), lambda v: v > 0, "a positive learning rate", 1e-4),
                      seed=value(tr, "seed", int, lambda v: True, "an integer", 0))
    b, e = doc.get("build", {}), doc.get("engine", {})
    build = BuildSpec(pareto=value(b, "pareto", bool, lambda v: True, "true or false", True),
                      images=value(b, "images", int, *count, 200),
                      clock_mhz=float(value(b, "clock_mhz", (int, float), lambda v: 0 < v <= 1000,
                                            "a clock in MHz, at most 1000", 100.0)))
    engine = EngineSpec(cpus_per_trial=float(value(e, "cpus_per_trial", (int, float), lambda v: v > 0,
                                                   "a positive number of CPUs", 1.0)),
                        retries=value(e, "retries", int, lambda v: v >= 0, "retries >= 0", 3),
                        trial_timeout_s=float(value(e, "trial_timeout_s", (int, float), lambda v: v > 0,
                                                    "a positive number of seconds", 7200.0)))
    return SweepSpec(path=path, trials=trials, train=train, build=build, engine=engine)


def _known(name: str) -> bool:
    try:
        get_part(name)
        return True
    except UserError:
        return False
