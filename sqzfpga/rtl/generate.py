"""hls4ml ModelGraph -> SystemVerilog dataflow (the RTL writer).

Reads the same graph the HLS writer reads (layer attributes: geometry, integer weights, power-of-two
types), plans the folding (sqzfpga.rtl.plan), writes one ROM init file per weight memory and the
top module from `templates/rtl/sqznet_top.sv.jinja`; the module library (`templates/rtl/*.sv`) is
copied beside it. One emitter per layer class, registered by name, as hls4ml does for backends.
Output is deterministic: same graph and plan, same bytes.
"""
from __future__ import annotations

import json
import re
import shutil
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from sqzfpga import jinja
from sqzfpga.errors import UserError
from sqzfpga.driver.layout import Layout
from sqzfpga.ir.types import QType
from sqzfpga.ir.arith import accum_frac, accum_width, gap_widths
from sqzfpga.rtl.cost import memories, rom_style, rom_width
from sqzfpga.rtl.plan import Budget, budget, plan
from sqzfpga.rtl.unit import Unit
from sqzfpga.tools import lint

LIBRARY = Path(__file__).resolve().parent.parent / "templates" / "rtl"
TOP = "sqznet_top"


def library_sources() -> list[Path]:
    return sorted(LIBRARY.glob("*.sv"))


def ident(text: str) -> str:
    """A name from a model file as a safe SystemVerilog / file-name identifier."""
    s = re.sub(r"[^A-Za-z0-9_]", "_", str(text)).strip("_") or "x"
    return s if s[0].isalpha() else f"n_{s}"


def line_rows(k: int) -> int:
    """Line-buffer rows: a power of two above K, so the next row loads while this one is used."""
    r = 2
    while r < k + 1:
        r *= 2
    return r


@dataclass
class ConvSpec:
    """One conv-like unit: input type, segments (weights, types, ReLU, kernel), output type."""
    unit: Unit
    xq: QType
    oq: QType
    segs: list = field(default_factory=list)  # dicts: w (F,K,K,C ints), wq, b, bq, relu, ks

    def __post_init__(self):
        u = self.unit
        u.wbits, u.ibits, u.obits = max(s["wq"].bits for s in self.segs), self.xq.bits, self.oq.bits

    def frac(self) -> int:
        return max(accum_frac(self.xq, s["wq"], s["bq"]) for s in self.segs)

    def params(self, folder: Path, stem: str) -> dict:
        """SV parameters of this unit after planning; writes its weight and bias ROM files."""
        u, xq, f = self.unit, self.xq, self.frac()
        pi, po, nci = u.pi, u.po, u.cin // u.pi
        wb = max(s["wq"].bits for s in self.segs)
        d = f - self.oq.frac
        accw = max(accum_width(xq, s["w"], s["wq"], s["b"], s["bq"], frac=f) for s in self.segs)
        accw = max(accw, wb + xq.bits + 2 + (pi - 1).bit_length(), d + 2)
        words, biases = [], []
        ew = u.pack * wb + u.pack - 1  # bits per ROM entry: a weight, or a packed pair (see sqz_mac)
        for s in self.segs:
            w, ks = s["w"], s["ks"]
            k = w.shape[1]
            off = (k - ks) // 2 if ks < k else 0
            b = s["b"] if s["b"] is not None else np.zeros(w.shape[0], dtype=np.int64)
            bsh = f - s["bq"].frac if s["b"] is not None else 0
            for co in range(w.shape[0] // po):
                biases.append(_pack([int(b[co * po + j]) << bsh for j in range(po)], accw))
                for ky in range(ks):
                    for kx in range(ks):
                        for ci in range(nci):
                            tap = [[int(w[co * po + j, ky + off, kx + off, ci * pi + i]) for i in range(pi)]
                                   for j in range(po)]
                            if u.pack == 2:
                                entries = [((hi - (lo < 0)) << wb) | (lo & ((1 << wb) - 1))
                                           for lows, highs in zip(tap[0::2], tap[1::2]) for lo, hi in zip(lows, highs)]
                            else:
                                entries = [v for row in tap for v in row]
                            words.append(_pack(entries, ew))
        assert len(words) == u.nstep
        wfile, bfile = f"{stem}_w.mem", f"{stem}_b.mem"
        _write_mem(folder / wfile, words, rom_width(u))
        _write_mem(folder / bfile, biases, po * accw)
        p = {"PI": pi, "PO": po, "WB": wb, "PACK": u.pack, "PS": u.pack_shift, "LUTMUL": u.lutmul, "NSTEP": u.nstep, "ACCW": accw, "D": d,
             "PSH0": f - (self.segs[0]["wq"].frac + xq.frac), "RELU0": int(self.segs[0]["relu"]),
             "WFILE": wfile, "BFILE": bfile, "WSTYLE": rom_style(u)}
        if len(self.segs) > 1:
            p.update(PSH1=f - (self.segs[1]["wq"].frac + xq.frac), RELU1=int(self.segs[1]["relu"]))
        return p


def _pack(values: list[int], width: int) -> int:
    word, mask = 0, (1 << width) - 1
    for i, v in enumerate(values):
        word |= (v & mask) << (i * width)
    return word


def _write_mem(path: Path, words: list[int], width: int) -> None:
    digits = max(1, (width + 3) // 4)
    path.write_text("".join(f"{w:0{digits}x}\n" for w in words))


# ---- one emitter per layer class ------------------------------------------------------------------
EMITTERS = {}


def emits(class_name: str):
    def register(fn):
        EMITTERS[class_name] = fn
        return fn
    return register


def _q(layer, key) -> QType:
    return QType.of(layer.get_attr(key))


def _seg(layer, prefix: str, ks: int | None = None) -> dict:
    w = np.asarray(layer.get_attr(f"{prefix}w"), dtype=np.int64)
    b = layer.get_attr(f"{prefix}b")
    return {"w": w, "wq": _q(layer, f"{prefix}wq"), "b": None if b is None else np.asarray(b, dtype=np.int64),
            "bq": _q(layer, f"{prefix}bq") if b is not None else None, "relu": bool(layer.get_attr(f"{prefix}relu")),
            "ks": w.shape[1] if ks is None else ks}


def _geo(layer):
    (h, w, c), (oh, ow, oc) = layer.get_attr("in_shape"), layer.get_attr("out_shape")
    return int(h), int(w), int(c), int(oh), int(ow), int(oc)


@emits("SqzConv")
def _conv(layer, name):
    h, w, c, oh, ow, oc = _geo(layer)
    seg = _seg(layer, "")
    k, s = int(layer.get_attr("k")), int(layer.get_attr("s"))
    pads = list(layer.get_attr("pads"))
    xq, oq = _q(layer, "in_q"), _q(layer, "out_q")
    flat = k == 1 and s == 1 and not any(pads)  # a 1x1 conv sees one column of h*w pixels: 2 pixel slots
    spec = ConvSpec(Unit(name, "conv", h * w, oh * ow, cin=c, segments=[(oc, k)], row_px=1 if flat else w,
                         rows=line_rows(k)), xq, oq, [seg])
    if flat:
        h, w, oh, ow = h * w, 1, oh * ow, 1

    def render(folder):
        nci, r = c // spec.unit.pi, line_rows(k)
        p = {"H": h, "W": w, "C": c, "IB": xq.bits, "ISIGNED": int(xq.signed), "K": k, "S": s, "PT": pads[0],
             "PL": pads[1], "OH": oh, "OW": ow, "R": r, "NCI": nci, "NSEG": 1,
             "NCO0": oc // spec.unit.po, "KS0": k, "OB": oq.bits, "OSIGNED": int(oq.signed),
             "LBSTYLE": line_style(spec.unit), **spec.params(folder, name)}
        return "sqz_conv", p
    return [spec.unit], render


@emits("SqzMaxPool")
def _pool(layer, name):
    h, w, c, oh, ow, _ = _geo(layer)
    k, s = int(layer.get_attr("k")), int(layer.get_attr("s"))
    pads = list(layer.get_attr("pads"))
    xq = _q(layer, "in_q")
    if _q(layer, "out_q") != xq:
        raise UserError(f"layer {name} (SqzMaxPool): the RTL backend needs equal input and output types; "
                        "requantise in the next layer")

    unit = Unit(name, "pool", h * w, oh * ow, cin=c, taps=k * k, row_px=w, rows=line_rows(k), ibits=xq.bits,
                obits=xq.bits)

    def render(folder):
        r = line_rows(k)
        return "sqz_maxpool", {"H": h, "W": w, "C": c, "IB": xq.bits, "ISIGNED": int(xq.signed), "K": k, "S": s,
                               "PT": pads[0], "PL": pads[1], "OH": oh, "OW": ow, "R": r, "NCH": unit.chunks,
                               "LBSTYLE": line_style(unit)}
    return [unit], render


@emits("SqzGlobalAvgPool")
def _gap(layer, name):
    h, w, c, _, _, _ = _geo(layer)
    iq, oq = _q(layer, "in_q"), _q(layer, "out_q")
    shift, sumw, numw = gap_widths(iq, oq, h * w)

    def render(folder):
        return "sqz_gap", {"N": h * w, "C": c, "IB": iq.bits, "ISIGNED": int(iq.signed), "SUMW": sumw,
                           "NUMW": numw, "SHIFT": shift, "OB": oq.bits, "OMIN": oq.lo, "OMAX": oq.hi}
    return [Unit(name, "gap", h * w, 1, extra=c * (numw + 2))], render


@emits("SqzFire")
def _fire(layer, name):
    h, w, c, _, _, oc = _geo(layer)
    xq, sq, eq, oq = _q(layer, "in_q"), _q(layer, "squeeze_q"), _q(layer, "expand_q"), _q(layer, "out_q")
    s_seg, e1, e3 = _seg(layer, "squeeze_"), _seg(layer, "e1_", 1), _seg(layer, "e3_", 3)
    nsq, ne1, ne3 = s_seg["w"].shape[0], e1["w"].shape[0], e3["w"].shape[0]
    bypass = layer.get_attr("bypass")
    px = h * w
    squeeze = ConvSpec(Unit(f"{name}.squeeze", "conv", px, px, cin=c, segments=[(nsq, 1)]), xq, sq, [s_seg])
    expand = ConvSpec(Unit(f"{name}.expand", "conv", px, px, cin=nsq, segments=[(ne1, 1), (ne3, 3)], row_px=w,
                           rows=line_rows(3)), sq, eq if bypass != "none" else oq, [e1, e3])
    specs = [squeeze, expand]
    if bypass == "conv":
        specs.append(ConvSpec(Unit(f"{name}.bypass", "conv", px, px, cin=c, segments=[(oc, 1)]), xq, eq,
                              [_seg(layer, "bypass_")]))

    def render(folder):
        p = {"H": h, "W": w, "CI": c, "IB": xq.bits, "ISIGNED": int(xq.signed), "SQ": nsq, "SB": sq.bits,
             "E1": ne1, "E3": ne3, "EB": expand.oq.bits, "ESIGNED": int(expand.oq.signed), "OB": oq.bits,
             "OSIGNED": int(oq.signed),
             "S_LBSTYLE": line_style(squeeze.unit),
             "E_LBSTYLE": line_style(expand.unit)}
        if bypass == "conv":
            p["B_LBSTYLE"] = line_style(specs[2].unit)
        if sq.signed:
            raise UserError(f"layer {name} (SqzFire): signed squeeze outputs are not supported by the RTL backend "
                            "yet; use a ReLU after the squeeze conv")
        for prefix, spec in zip(("S_", "E_", "B_"), specs):
            q = spec.params(folder, f"{name}_{prefix[0].lower()}")
            if prefix != "E_":  # one segment: PSH0/RELU0 are spelled PSH/RELU
                q["PSH"], q["RELU"] = q.pop("PSH0"), q.pop("RELU0")
            p.update({prefix + k: v for k, v in q.items()})
        if bypass != "none":
            p.update(BYPASS=1 if bypass == "identity" else 2, BYD=w + 4, A_D=eq.frac - oq.frac,
                     A_RELU=int(bool(layer.get_attr("add_relu"))), ID_D=xq.frac - eq.frac)
        return "sqz_fire", p
    return [s.unit for s in specs], render


def line_style(u: Unit) -> str:
    """"block" or "distributed": the line buffer's memory, as the cost model counts it (one rule)."""
    return memories(u)[0][2]


# ---- the whole design ----------------------------------------------------------------------------
def _literal(v) -> str:
    if isinstance(v, str):
        return '"' + v + '"'
    return str(int(v))


def design(hm) -> tuple[list, list]:
    """(units, [(instance name, render, out channels, out type, out pixels)]) of every layer, in order."""
    layers, units = [], []
    for layer in hm.get_layers():
        cls = layer.class_name
        if cls == "Input":
            continue
        if cls not in EMITTERS:
            raise UserError(f"layer {layer.name!r} of type {cls}: not supported by the RTL backend yet (it "
                            f"supports {', '.join(sorted(EMITTERS))}); use the HLS backend for this model")
        name = f"l{len(layers) + 1}_{ident(layer.name)}"
        us, render = EMITTERS[cls](layer, name)
        units += us
        _, _, _, oh, ow, oc = _geo(layer)
        layers.append((name, render, oc, _q(layer, "out_q"), oh * ow))
    return units, layers


def first_input(hm) -> tuple[int, QType, int]:
    first = next(l for l in hm.get_layers() if l.class_name != "Input")
    h, w, c, _, _, _ = _geo(first)
    return c, _q(first, "in_q"), h * w


def layout_of(hm) -> Layout:
    """The DMA byte layout (driver/layout.py) of the graph's input and output streams."""
    layers = [l for l in hm.get_layers() if l.class_name != "Input"]
    h, w, c, _, _, _ = _geo(layers[0])
    _, _, _, oh, ow, oc = _geo(layers[-1])
    oq = _q(layers[-1], "out_q")
    return Layout(channels=c, height=h, width=w, out_words=oh * ow * oc, out_bits=oq.bits, out_frac=oq.frac,
                  out_signed=bool(oq.signed))


def write(hm, folder: Path, part, max_cycles: int | None = None) -> dict:
    """generate() for `part`, then lint the result with Verilator (a generator bug stops the build)."""
    manifest = generate(hm, folder, budget(part), max_cycles)
    lint(folder, manifest["top"], manifest["sources"])
    return manifest


def units_of(hm) -> tuple[list[Unit], list]:
    """The dataflow's units (input adapter first) and layers, as design() returns them."""
    units, layers = design(hm)
    c_in, in_q, in_px = first_input(hm)
    if in_q.bits > 8:
        raise UserError(f"input type {in_q}: the RTL backend streams one byte per channel; use 8-bit input")
    return [Unit("input", "adapter", in_px * c_in, in_px)] + units, layers


def generate(hm, folder: Path, bud: Budget, max_cycles: int | None = None) -> dict:
    """Write the RTL design of `hm` into `folder` (created), folded by the planner for `bud` (and
    `max_cycles`, when given); return the manifest (also rtl.json)."""
    units, layers = units_of(hm)
    c_in, in_q, in_px = first_input(hm)
    folder.mkdir(parents=True, exist_ok=True)
    p = plan(units, bud, max_cycles)
    stages = []
    for name, render, oc, oq, opx in layers:
        module, params = render(folder)
        stages.append({"name": name, "module": module, "params": {k: _literal(v) for k, v in params.items()},
                       "width": oc * oq.bits})
    last_c, last_q, last_px = layers[-1][2], layers[-1][3], layers[-1][4]
    frame_bytes, flags = in_px * c_in, 2 * (len(stages) + 2)  # flags: see the top's comment
    adapters = [{"name": "input_adapter", "module": "sqz_bytes_to_pixels",
                 "params": {"C": str(c_in), "IB": str(in_q.bits), "FRAME": str(frame_bytes), "FLAGS": str(flags)}},
                {"name": "output_adapter", "module": "sqz_scores_to_words",
                 "params": {"C": str(last_c), "OB": str(last_q.bits), "OSIGNED": str(int(last_q.signed)),
                            "NPIX": str(last_px)}}]
    top = jinja.render(
        "rtl/sqznet_top.sv.jinja", top=TOP, c_in=c_in, in_bits=in_q.bits, stages=stages, out_c=last_c,
        out_bits=last_q.bits, out_signed=int(last_q.signed), out_pixels=last_px, frame_bytes=frame_bytes, flags=flags)
    (folder / f"{TOP}.sv").write_text(top + "\n")
    for src in library_sources():
        shutil.copyfile(src, folder / src.name)
    manifest = {"top": TOP, "sources": [s.name for s in library_sources()] + [f"{TOP}.sv"],
                "input": {"channels": c_in, "pixels": in_px, "bits": in_q.bits},
                "output": {"channels": last_c, "pixels": last_px, "bits": last_q.bits, "frac": last_q.frac,
                           "signed": last_q.signed},
                "layout": layout_of(hm).to_dict(),
                "plan": p,
                "stages": [adapters[0]] + [{k: st[k] for k in ("name", "module", "params")} for st in stages] +
                          [adapters[1]]}
    (folder / "rtl.json").write_text(json.dumps(manifest, indent=1) + "\n")
    return manifest

