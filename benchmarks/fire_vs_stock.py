"""Our fused-Fire HLS path vs stock hls4ml's clone / zero-pad / concat path, on the default model.

    .venv/bin/python benchmarks/fire_vs_stock.py [--images 50] [--json]

Both projects come from the same QONNX export and are compiled with g++ (hls4ml's C-simulation
library) in one run. Stock hls4ml 1.3.0 gets only the fixes it needs to run at all (each one a
failure listed in TOOLCHAIN-NOTES): the output Flatten removed (naming crash), ceil-mode pools as
zero Pad + floor pool, the channels-first shape read of GlobalAveragePool given the view it
expects, and the overlapping-window assert removed from its copied pooling header.
Memory figures count what each design buffers on chip besides weights: line buffers (K-1 rows for
hls4ml's shift-register conv/pool, our K-row buffers), whole tensors held by Transpose layers, and
FIFOs (depth x element bits, the depths each flow writes into the project).
FIFO resources are counted by the same rules (sqzfpga.hls.binding: Vitis's default rule, or the
BIND_STORAGE impl the firmware gives) for both sides: stock's from its written firmware (every
`hls::stream` its top file declares, at the depth its STREAM pragma, template argument or Vitis's
default 2 gives, its word width resolved through the project's typedefs); ours from hls.fit, which
knows every stream our kernels declare inside their templates (widths and depths from the folding).
Our AXI-stream wrapper (sqznet_axis.cpp) is left out: stock has none.
"""
from __future__ import annotations

import argparse
import contextlib
import io
import json
import re
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from sqzfpga.hls import binding

VITIS_DEFAULT_DEPTH = 2  # an hls::stream without a depth (UG1399, "HLS Stream Library")
C_WIDTHS = {"bool": 1, "char": 8, "unsigned char": 8, "short": 16, "unsigned short": 16, "int": 32,
            "unsigned": 32, "unsigned int": 32, "long": 64, "unsigned long": 64, "float": 32, "double": 64}


def stock_fixes(model):
    """The minimal ONNX edits that let stock hls4ml convert and run the exported graph."""
    from onnx import helper, numpy_helper
    from qonnx.core.modelwrapper import ModelWrapper
    from qonnx.transformation.general import GiveReadableTensorNames, GiveUniqueNodeNames

    from sqzfpga.model.geometry import pool_out

    m = ModelWrapper(model).transform(GiveUniqueNodeNames()).transform(GiveReadableTensorNames())
    g = m.graph
    # 1. Flatten as the output: hls4ml expects a node's name to equal its output tensor's name
    flat = next(n for n in g.node if n.op_type == "Flatten")
    vi = next(v for v in g.value_info if v.name == flat.input[0])
    g.output[0].CopyFrom(vi)
    g.value_info.remove(vi)
    g.node.remove(flat)
    # 6. ceil_mode is ignored (floor): zero Pad bottom/right + floor pool (exact after a ReLU)
    for n in [n for n in g.node if n.op_type == "MaxPool"]:
        attrs = {a.name: a for a in n.attribute}
        if "ceil_mode" not in attrs or not attrs["ceil_mode"].i:
            continue
        k, s = attrs["kernel_shape"].ints[0], attrs["strides"].ints[0]
        _, h, w, c = m.get_tensor_shape(n.input[0])
        eh, ew = ((pool_out(x, k, s, ceil_mode=True) - 1) * s + k - x for x in (h, w))
        pads, padded = f"{n.name}_pads", f"{n.name}_padded"
        g.initializer.append(numpy_helper.from_array(np.array([0, 0, 0, 0, 0, eh, ew, 0], np.int64), pads))
        g.value_info.extend([helper.make_tensor_value_info(padded, 1, [1, h + eh, w + ew, c]),
                             helper.make_tensor_value_info(pads, 7, [8])])
        g.node.insert(list(g.node).index(n), helper.make_node("Pad", [n.input[0], pads], [padded], name=f"{n.name}_pad"))
        n.input[0] = padded
        attrs["ceil_mode"].i = 0
    # 2. the GlobalAveragePool handler reads N,C,H,W: feed it the channels-last tensor under that view
    gap = next(n for n in g.node if n.op_type == "GlobalAveragePool")
    tr = next(n for n in g.node if gap.input[0] in n.output)
    _, h, w, c = m.get_tensor_shape(tr.input[0])
    view = f"{gap.name}_in"
    g.value_info.append(helper.make_tensor_value_info(view, 1, [1, c, h, w]))
    g.node.insert(list(g.node).index(tr), helper.make_node("Identity", [tr.input[0]], [view], name=f"{gap.name}_view"))
    g.node.remove(tr)
    gap.input[0] = view
    return m.model


def remove_pool_assert(prj: Path) -> None:
    """3. hls4ml's streaming pool asserts window == stride; its line buffer handles overlap without it."""
    h = prj / "firmware" / "nnet_utils" / "nnet_pooling_stream.h"
    text = re.sub(r"assert\(CONFIG_T::pool_height == CONFIG_T::stride_height[^;]*;", "", h.read_text())
    h.write_text(text)


def stock_buffers(hm) -> tuple[int, int]:
    """(line-buffer + transpose bits, FIFO bits) of a stock hls4ml io_stream graph."""
    buf = fifo = 0
    for layer in hm.get_layers():
        out = layer.get_output_variable()
        if isinstance(getattr(out, "pragma", None), tuple):
            fifo += out.pragma[1] * out.shape[-1] * out.type.precision.width
        inp = layer.get_input_variable() if layer.inputs else None
        if inp is None:
            continue
        bits = inp.type.precision.width
        if layer.class_name in ("Conv2D", "Pooling2D"):
            k = layer.get_attr("filt_height") or layer.get_attr("pool_height")
            buf += (k - 1) * layer.get_attr("in_width") * layer.get_attr("n_chan", layer.get_attr("n_filt")) * bits
        elif layer.class_name == "Transpose":
            buf += int(np.prod(inp.shape)) * bits
    return buf, fifo


@dataclass(frozen=True)
class Fifo:
    where: str  # file:line of the declaration
    name: str
    width: int
    depth: int
    impl: str | None  # the BIND_STORAGE impl the firmware gives, if any
    storage: binding.Storage


def _template_args(text: str, start: int) -> tuple[list[str], int]:
    """Top-level comma-separated arguments of the <...> opening at text[start], and the index after '>'."""
    depth, args, cur = 0, [], start + 1
    for i in range(start, len(text)):
        c = text[i]
        if c == "<":
            depth += 1
        elif c == ">":
            depth -= 1
            if depth == 0:
                args.append(text[cur:i].strip())
                return args, i + 1
        elif c == "," and depth == 1:
            args.append(text[cur:i].strip())
            cur = i + 1
    raise ValueError(f"unbalanced <> at offset {start}")


def _const(expr: str) -> int | None:
    """An integer constant expression such as '64*1' (digits and arithmetic only), else None."""
    if not re.fullmatch(r"[\d\s*+()-]+", expr):
        return None
    return int(eval(expr, {"__builtins__": {}}))  # noqa: S307 - digits and operators only


def type_bits(t: str, typedefs: dict[str, str]) -> int | None:
    """Bits of a C++ type of the firmware (ap_[u]fixed/ap_[u]int, nnet::array, C scalars, typedefs)."""
    t = " ".join(t.split())
    if t in typedefs:
        return type_bits(typedefs[t], typedefs)
    if t in C_WIDTHS:
        return C_WIDTHS[t]
    m = re.match(r"(?:nnet::)?(array|ap_u?fixed|ap_u?int)\s*<", t)
    if not m:
        return None
    args, _ = _template_args(t, t.index("<"))
    if m.group(1) == "array":
        elem, n = type_bits(args[0], typedefs), _const(args[1])
        return elem * n if elem is not None and n is not None else None
    return _const(args[0])


def declared_fifos(prj: Path, project: str) -> tuple[list[Fifo], list[str]]:
    """The stream FIFOs stock hls4ml's top file declares, bound as Vitis would bind them; and the
    declarations whose width or depth is not a constant, by file:line. (Our headers, which hls4ml copies
    into every project once registered, are not stock's; ours are counted by hls.fit.)"""
    fw = prj / "firmware"
    files = [fw / f"{project}.cpp"]
    typedefs = {}
    for f in [fw / "defines.h", *files]:
        for m in re.finditer(r"typedef\s+([^;]+?)\s+(\w+)\s*;", f.read_text()):
            typedefs[m.group(2)] = m.group(1)
    fifos, unresolved = [], []
    for f in files:
        text = f.read_text()
        pragmas = [(m.start(), dict(re.findall(r"(\w+)\s*=\s*(\w+)", m.group(1))))
                   for m in re.finditer(r"#pragma\s+HLS\s+(?:STREAM|BIND_STORAGE)\b([^\n]*)", text, re.I)]
        decls = []  # (offset, template arguments, name, array length expression or None)
        for m in re.finditer(r"hls::stream\s*<", text):
            args, end = _template_args(text, m.end() - 1)
            decl = re.match(r"\s*(\w+)\s*(?:\[([^\]]*)\])?\s*[;({]", text[end:])
            if decl:  # not a parameter (hls::stream<T> &x) or a nested use
                decls.append((m.start(), args, decl.group(1), decl.group(2)))
        for pos, args, name, count in decls:
            stop = next((p for p, _, n, _ in decls if p > pos and n == name), len(text))
            mine = [kv for p, kv in pragmas if pos < p < stop and kv.get("variable") == name]
            depth_s = next((kv["depth"] for kv in mine if "depth" in kv), None)
            impl = next((kv["impl"].lower() for kv in mine if "impl" in kv), None)
            width = type_bits(args[0], typedefs)
            depth = _const(depth_s) if depth_s else _const(args[1]) if len(args) > 1 else VITIS_DEFAULT_DEPTH
            n = _const(count) if count is not None else 1
            where = f"{f.name}:{text.count(chr(10), 0, pos) + 1}"
            if width is None or depth is None or n is None:
                unresolved.append(f"{where} {name}")
                continue
            fifos += [Fifo(where, name, width, depth, impl, binding.fifo(width, depth, impl))] * n
    return fifos, unresolved


def fifo_summary(fifos: list[Fifo], unresolved: list[str]) -> dict:
    t = binding.total(f.storage for f in fifos)
    kinds = {}
    for f in fifos:
        kinds[f.storage.resource] = kinds.get(f.storage.resource, 0) + 1
    return {"count": len(fifos), "bits": sum(f.width * f.depth for f in fifos), "bram18": t.bram18,
            "lut": t.luts, "srl_lut": t.srl_luts, "lutram_lut": t.lutram_luts, "logic_lut": t.logic_luts,
            "ff": t.ff, "by_resource": kinds, "unresolved": unresolved,
            # the bound on the one assumed rule: Vivado putting every RAM FIFO in block RAM
            "bram18_all_ram_in_bram": sum(binding.fifo(f.width, f.depth, f.impl, lutram_max_words=0).bram18
                                          for f in fifos)}


def timed(fn, *args):
    t0 = time.perf_counter()
    with contextlib.redirect_stdout(io.StringIO()):
        result = fn(*args)
    return result, time.perf_counter() - t0


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--images", type=int, default=50, help="sample images to run through both (max 1000)")
    ap.add_argument("--stock-precision", default="ap_fixed<32,16>",
                    help="stock hls4ml's default precision for the types the quantizers leave open "
                         "(its own default ap_fixed<16,6> overflows on this model)")
    ap.add_argument("--json", action="store_true")
    a = ap.parse_args()

    import hls4ml

    from sqzfpga.hls import fit
    from sqzfpga.hls.convert import convert_folded
    from sqzfpga.parts import get_part
    from sqzfpga.rtl.plan import budget
    from sqzfpga.hls.csim import to_stream
    from sqzfpga.layers import lower
    from sqzfpga.model import checkpoint, export, reference

    model, _ = checkpoint.load_model(checkpoint.DEFAULT_CHECKPOINT)
    images = np.load(checkpoint.DEFAULT_SAMPLES)["images"][:a.images]
    res = {}
    with tempfile.TemporaryDirectory() as tmp:
        tmp = Path(tmp)
        proto = reference.load(export.export(model, tmp / "m.onnx"))
        ref = reference.run(proto, images).reshape(len(images), -1)

        canon, golden, low = lower(proto)
        ours = convert_folded(canon, low.input.q, tmp / "ours", "xc7z020clg400-1", budget(get_part("xc7z020")))
        rows = fit.estimate(ours)
        _, t_ours = timed(ours.compile)
        y, run_ours = timed(ours.predict, to_stream(images))
        y = np.asarray(y).reshape(len(images), -1)
        # every stream, those declared inside our kernel templates too: hls.fit, by the same binding rules
        fifos_ours = {"count": sum(r["fifos"] for r in rows), "bits": sum(r["fifo_bits"] for r in rows),
                      "bram18": sum(r["fifo_bram18"] for r in rows), "lut": sum(r["fifo_lut"] for r in rows),
                      "ff": sum(r["fifo_ff"] for r in rows)}
        res["ours"] = {"fifos": fifos_ours, "layers": len(list(ours.get_layers())),
                       "buffer_bits": sum(r["buffer_bits"] for r in rows),
                       "fifo_bits": sum(r["fifo_bits"] for r in rows), "compile_s": round(t_ours, 1),
                       "images_per_s": round(len(images) / run_ours, 2), "exact": bool(np.array_equal(y, ref)),
                       "argmax_agreement": float(np.mean(y.argmax(1) == ref.argmax(1)))}

        cfg = {"Model": {"Precision": a.stock_precision, "ReuseFactor": 1, "Strategy": "Resource"}}
        stock, _ = timed(lambda: hls4ml.converters.convert_from_onnx_model(
            stock_fixes(proto), output_dir=str(tmp / "stock"), io_type="io_stream", backend="Vitis",
            part="xc7z020clg400-1", hls_config=cfg))
        stock.write()
        remove_pool_assert(tmp / "stock")
        _, t_stock = timed(stock._compile)
        # stock keeps the model's NCHW input Transpose, so it takes N,C,H,W rows
        x = np.ascontiguousarray(images.reshape(len(images), -1).astype(np.float64))
        y, run_stock = timed(stock.predict, x)
        y = np.asarray(y).reshape(len(images), -1)
        buf, fifo = stock_buffers(stock)
        fifos_stock = fifo_summary(*declared_fifos(tmp / "stock", stock.config.get_project_name()))
        res["stock"] = {"fifos": fifos_stock, "layers": len(list(stock.get_layers())), "buffer_bits": buf,
                        "fifo_bits": fifo,
                        "compile_s": round(t_stock, 1), "images_per_s": round(len(images) / run_stock, 2),
                        "exact": bool(np.array_equal(y, ref)),
                        "argmax_agreement": float(np.mean(y.argmax(1) == ref.argmax(1)))}
    for side in ("ours", "stock"):
        r = res[side]
        print(f"{side:>5}: {r['layers']} layers, buffers {r['buffer_bits'] / 1e6:.3f} Mbit, FIFOs "
              f"{r['fifo_bits'] / 1e6:.3f} Mbit, g++ compile {r['compile_s']} s, {r['images_per_s']} images/s, "
              f"exact {r['exact']}, top-class agreement {r['argmax_agreement']:.3f}")
        f = r["fifos"]
        if side == "ours":
            print(f"{'':>7}FIFOs as Vitis binds them (hls.fit, every stream): {f['count']} streams, "
                  f"{f['bits'] / 1e6:.3f} Mbit, BRAM18 {f['bram18']}, LUT {f['lut']}, FF {f['ff']}")
            continue
        kinds = ", ".join(f"{n} {k}" for k, n in sorted(f["by_resource"].items()))
        print(f"{'':>7}FIFOs as Vitis binds them: {f['count']} streams ({kinds}), {f['bits'] / 1e6:.3f} Mbit, "
              f"BRAM18 {f['bram18']}, LUT {f['lut']} (SRL {f['srl_lut']}, LUTRAM {f['lutram_lut']}, "
              f"mux {f['logic_lut']}), FF {f['ff']}; BRAM18 {f['bram18_all_ram_in_bram']} if every RAM FIFO "
              f"went to block RAM")
        for u in f["unresolved"]:
            print(f"{'':>7}not counted (width or depth not a constant): {u}")
    o, s = res["ours"], res["stock"]
    print(f"on-chip buffer+FIFO bits: ours {(o['buffer_bits'] + o['fifo_bits']) / 1e6:.3f} Mbit vs stock "
          f"{(s['buffer_bits'] + s['fifo_bits']) / 1e6:.3f} Mbit")
    o, s = o["fifos"], s["fifos"]
    print(f"FIFOs as Vitis binds them: ours BRAM18 {o['bram18']}, LUT {o['lut']}, FF {o['ff']} vs stock "
          f"BRAM18 {s['bram18']}, LUT {s['lut']}, FF {s['ff']}")
    if a.json:
        print(json.dumps(res, default=int))


if __name__ == "__main__":
    main()
