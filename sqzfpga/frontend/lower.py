"""QONNX graph -> sqzfpga's canonical streaming graph (ONNX nodes in the `sqzfpga` domain).

The exported QONNX graph spells one quantized layer as several nodes (weight and bias `Quant`s,
`Conv`, `Relu`, activation `Quant`) wrapped in layout `Transpose`s. hls4ml 1.3.0 trips over
several of these shapes (see TOOLCHAIN-NOTES). This pass rewrites the graph, before hls4ml sees
it, into one node per hardware layer, all channels-last, with integer weights and power-of-two
fixed-point types as node attributes:

    SqzConv   conv + bias + optional ReLU + requantisation (any kernel, stride, padding)
    SqzFire   squeeze -> (expand1x1 || expand3x3) -> concat [+ bypass add], one streaming layer
    SqzMaxPool  k x k / s max pooling, floor or ceil mode
    SqzGlobalAvgPool  global average pool + output quantisation, rounded exactly

It is a sequence of small passes (`lower`: parse -> fuse_fire -> emit); every tensor of the
canonical graph names the tensor of the original graph it must equal, so the C simulation is
checked layer by layer against the reference executor.
"""
from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np
import onnx
from onnx import helper, numpy_helper

from sqzfpga.errors import UserError
from sqzfpga.ir.types import QType
from sqzfpga.model import reference
from sqzfpga.model.geometry import pool_out

DOMAIN = "sqzfpga"
NHWC, NCHW = (0, 2, 3, 1), (0, 3, 1, 2)

MAX_BITS = {"constant": 32, "activation": 16}  # widest types we generate (32-bit biases; <= 16-bit streams)


@dataclass
class Const:
    ints: np.ndarray
    q: QType


@dataclass
class Act:
    """An activation tensor: shape (H, W, C) channels-last; q None while still unquantized."""
    name: str           # tensor name in the original graph (golden value for layer checks)
    shape: tuple
    q: QType | None
    layout: tuple = NHWC  # how the original graph holds it
    op: dict | None = None  # producing op
    src: "Act | None" = None  # the tensor this one is a layout view of

    @property
    def root(self) -> "Act":
        return self.src or self


@dataclass
class Lowered:
    ops: list = field(default_factory=list)
    input: Act | None = None
    output: Act | None = None


def _where(node) -> str:
    return f"node {node.name or '(unnamed)'!r} ({node.op_type})"


def po2_exponent(scale: np.ndarray, what: str) -> int:
    """Exponent f with scale == 2**-f, or a UserError explaining the power-of-two requirement."""
    s = np.unique(np.asarray(scale, dtype=np.float64))
    if s.size != 1 or not np.isfinite(s[0]) or s[0] <= 0:
        raise UserError(f"{what}: scale {s.tolist()[:4]} is not one positive per-tensor value; sqzfpga needs "
                        "per-tensor power-of-two scales (Brevitas *PerTensorFixedPoint quantizers)")
    m, e = np.frexp(s[0])
    if m != 0.5:
        raise UserError(f"{what}: scale {s[0]:.6g} is not a power of two; fixed-point hardware needs scales "
                        "2^k: quantize with Brevitas power-of-two quantizers (Int8WeightPerTensorFixedPoint, "
                        "Uint8ActPerTensorFixedPoint, ...) and re-export")
    return int(1 - e)


class Walk:
    """State of one walk over a QONNX graph: constants, activation tensors by name, the ops so far."""

    def __init__(self, model: onnx.ModelProto):
        g = model.graph
        self.inits = {t.name: numpy_helper.to_array(t).astype(np.float64) for t in g.initializer}
        self.consts: dict[str, Const] = {}
        self.vals: dict[str, Act] = {}
        self.low = Lowered()
        inp = g.input[0]
        _, c, h, w = (d.dim_value for d in inp.type.tensor_type.shape.dim)
        self.raw = self.vals[inp.name] = Act(inp.name, (h, w, c), None, NCHW)

    def act(self, node, i=0) -> Act:
        a = self.vals.get(node.input[i])
        if a is None:
            raise UserError(f"{_where(node)}: input {i} is not an activation tensor; expected a streaming "
                            "image tensor here")
        return a

    def quantized(self, node, i=0) -> Act:
        a = self.act(node, i)
        if a.q is None:
            raise UserError(f"{_where(node)}: its input is not quantized; every layer input must come from a "
                            "power-of-two Quant node")
        return a

    def const(self, node, i) -> Const | None:
        if i >= len(node.input) or not node.input[i]:
            return None
        cst = self.consts.get(node.input[i])
        if cst is None:
            raise UserError(f"{_where(node)}: input {i} is not a quantized constant; weights and biases must "
                            "be Quant nodes on initializers with power-of-two scales")
        return cst

    def add(self, node, o: dict, shape, q=None, layout=None) -> Act:
        """Record op `o` producing the node's output; quantized ops are complete, others wait for a Quant."""
        a = Act(node.output[0], tuple(shape), q, layout or o["in"].layout, o)
        self.low.ops.append(o)
        if q is not None:
            o["out"] = a
        self.vals[node.output[0]] = a
        return a


OP_HANDLERS: dict = {}  # ONNX op type -> handler(walk, node, attrs), registered with @handles


def handles(*ops):
    def register(fn):
        for op in ops:
            OP_HANDLERS[op] = fn
        return fn
    return register


@handles("Quant")
def _quant(w: Walk, node, attrs):
    x, out = node.input[0], node.output[0]
    scale, zp, bits = (w.inits.get(node.input[i]) for i in (1, 2, 3))
    if scale is None or zp is None or bits is None:
        raise UserError(f"{_where(node)}: scale, zero point and bit width must be constants")
    if np.any(zp != 0):
        raise UserError(f"{_where(node)}: zero point {np.unique(zp).tolist()[:4]} is not 0; sqzfpga needs "
                        "symmetric (zero-point 0) quantizers")
    kind = "constant" if x in w.inits else "activation"
    if bits.size != 1 or not float(bits.item()).is_integer() or not 2 <= bits.item() <= MAX_BITS[kind]:
        raise UserError(f"{_where(node)}: {kind} bit width {np.ravel(bits).tolist()[:4]}; expected an integer from "
                        f"2 to {MAX_BITS[kind]} (re-export with 2- to 8-bit weights and activations)")
    f = po2_exponent(scale, _where(node))
    if attrs.get("rounding_mode", b"ROUND") not in (b"ROUND", "ROUND"):
        raise UserError(f"{_where(node)}: rounding mode {attrs['rounding_mode']!r}; expected ROUND "
                        "(round half to even)")
    q = QType(int(bits.item()), f, bool(attrs.get("signed", 1)))
    if x in w.inits:  # a weight or bias: keep its integers
        y = reference.quant(w.inits[x], scale, zp, bits, **attrs)
        w.consts[out] = Const(np.rint(y * 2.0 ** f).astype(np.int64), q)
        return
    if attrs.get("narrow", 0):
        raise UserError(f"{_where(node)}: narrow-range activation quantizers are not supported; "
                        "use full-range activation quantizers (Brevitas *ActPerTensorFixedPoint)")
    a = w.act(node)
    if a.root is w.raw:  # the input quantizer: the hardware input stream carries this type
        new = w.low.input = Act(out, a.shape, q, a.layout)
    elif a.q is None and a.op is not None and "q" not in a.op:  # finalise a pending layer
        a.op["q"] = q
        a.op["out"] = new = Act(out, a.shape, q, a.layout, a.op)
    else:  # a requantisation of an already quantized tensor
        new = w.add(node, {"kind": "requant", "in": w.quantized(node), "relu": False, "q": q}, a.shape, q)
    w.vals[out] = new


@handles("Relu")
def _relu(w: Walk, node, attrs):
    a = w.act(node)
    if a.q is None and a.op is not None:  # fused into the pending layer
        a.op["relu"] = True
        w.vals[node.output[0]] = Act(node.output[0], a.shape, None, a.layout, a.op)
    else:  # relu on a quantized tensor: must be followed by a Quant (a requant with relu)
        w.add(node, {"kind": "requant", "in": w.quantized(node), "relu": True}, a.shape)


@handles("Transpose")
def _transpose(w: Walk, node, attrs):
    a = w.act(node)
    perm = tuple(attrs.get("perm", ()))
    if not (perm == NHWC and a.layout == NCHW or perm == NCHW and a.layout == NHWC):
        raise UserError(f"{_where(node)}: transpose {list(perm)} of a {'NCHW' if a.layout == NCHW else 'NHWC'}"
                        " tensor; only NCHW <-> NHWC layout changes are supported")
    w.vals[node.output[0]] = Act(node.output[0], a.shape, a.q, perm, a.op, a.root)


@handles("Identity", "Dropout")
def _identity(w: Walk, node, attrs):
    w.vals[node.output[0]] = w.act(node)


def _layout_matches(node, a: Act) -> None:
    if (node.domain == reference.CHANNELS_LAST) != (a.layout == NHWC):
        raise UserError(f"{_where(node)}: data layout does not match the node's domain")


@handles("Conv")
def _conv(w: Walk, node, attrs):
    a = w.quantized(node)
    wq, bq = w.const(node, 1), w.const(node, 2)
    _layout_matches(node, a)
    if attrs.get("group", 1) != 1 or tuple(attrs.get("dilations", (1, 1))) != (1, 1) \
            or attrs.get("auto_pad", b"NOTSET") not in (b"NOTSET", "NOTSET"):
        raise UserError(f"{_where(node)}: grouped, dilated or auto_pad convolutions are not supported")
    wi = wq.ints if node.domain == reference.CHANNELS_LAST else wq.ints.transpose(0, 2, 3, 1)  # O, kh, kw, I
    o_ch, kh, kw, i_ch = wi.shape
    if kh != kw or i_ch != a.shape[2]:
        raise UserError(f"{_where(node)}: kernel {kh}x{kw} over {i_ch} channels, input has "
                        f"{a.shape[2]}; only square kernels are supported")
    s = tuple(attrs.get("strides", (1, 1)))
    p = tuple(attrs.get("pads", (0, 0, 0, 0)))
    if s[0] != s[1]:
        raise UserError(f"{_where(node)}: strides {list(s)}; only equal strides are supported")
    oh = (a.shape[0] + p[0] + p[2] - kh) // s[0] + 1
    ow = (a.shape[1] + p[1] + p[3] - kw) // s[1] + 1
    w.add(node, {"kind": "conv", "in": a, "w": Const(wi, wq.q), "b": bq, "k": kh, "s": s[0], "pads": p,
                 "relu": False, "node": node.name}, (oh, ow, o_ch))


@handles("MaxPool")
def _maxpool(w: Walk, node, attrs):
    a = w.quantized(node)
    _layout_matches(node, a)
    k = tuple(attrs["kernel_shape"])
    s = tuple(attrs.get("strides", (1, 1)))
    p = tuple(attrs.get("pads", (0, 0, 0, 0)))
    if k[0] != k[1] or s[0] != s[1] or tuple(attrs.get("dilations", (1, 1))) != (1, 1):
        raise UserError(f"{_where(node)}: kernel {list(k)} stride {list(s)}; only square, undilated "
                        "pooling windows are supported")
    ceil = bool(attrs.get("ceil_mode", 0))
    oh = pool_out(a.shape[0], k[0], s[0], p[0], p[2], ceil)
    ow = pool_out(a.shape[1], k[1], s[1], p[1], p[3], ceil)
    w.add(node, {"kind": "maxpool", "in": a, "k": k[0], "s": s[0], "pads": p, "q": a.q},
          (oh, ow, a.shape[2]), a.q)


@handles("Concat")
def _concat(w: Walk, node, attrs):
    ins = [w.quantized(node, i) for i in range(len(node.input))]
    if attrs["axis"] % 4 != (1 if ins[0].layout == NCHW else 3):
        raise UserError(f"{_where(node)}: concatenation along axis {attrs['axis']} is not over channels")
    if len({i.q for i in ins}) != 1 or len({i.shape[:2] for i in ins}) != 1 or len(ins) != 2:
        raise UserError(f"{_where(node)}: concat inputs must be two tensors of one type and size "
                        "(give both expand branches one activation quantizer)")
    w.add(node, {"kind": "concat", "ins": ins, "q": ins[0].q},
          ins[0].shape[:2] + (sum(i.shape[2] for i in ins),), ins[0].q, ins[0].layout)


@handles("Add")
def _add(w: Walk, node, attrs):
    ins = [w.quantized(node, i) for i in range(2)]
    if ins[0].shape != ins[1].shape:
        raise UserError(f"{_where(node)}: adds tensors of shapes {ins[0].shape} and {ins[1].shape}")
    w.add(node, {"kind": "add", "ins": ins, "relu": False}, ins[0].shape, layout=ins[0].layout)


@handles("GlobalAveragePool")
def _gap(w: Walk, node, attrs):
    a = w.quantized(node)
    _layout_matches(node, a)
    w.add(node, {"kind": "gap", "in": a, "relu": False}, (1, 1, a.shape[2]))


@handles("Flatten", "Reshape")
def _flatten(w: Walk, node, attrs):
    a = w.act(node)
    if a.shape[:2] != (1, 1):
        raise UserError(f"{_where(node)}: flattens a {a.shape[0]}x{a.shape[1]} map; only the final 1x1 "
                        "class scores may be flattened")
    w.vals[node.output[0]] = Act(node.output[0], a.shape, a.q, a.layout, a.op, a.root)


SUPPORTED = tuple(OP_HANDLERS)


def parse(model: onnx.ModelProto) -> Lowered:
    """Walk the QONNX graph once; each op's handler turns node groups into layer ops (dicts) on `Act`s."""
    w = Walk(model)
    for node in model.graph.node:
        handler = OP_HANDLERS.get(node.op_type)
        if handler is None:
            raise UserError(f"{_where(node)}: op {node.domain + '.' if node.domain else ''}{node.op_type} is not "
                            f"supported; supported ops: {', '.join(SUPPORTED)}")
        handler(w, node, {a.name: helper.get_attribute_value(a) for a in node.attribute})
    low = w.low
    for o in low.ops:
        if o["kind"] in ("conv", "add", "gap", "requant") and "q" not in o:
            raise UserError(f"{o['kind']} layer {o.get('node', '')!r}: its output is not quantized; follow every "
                            "layer with a power-of-two activation Quant")
    out = w.vals.get(model.graph.output[0].name)
    if out is None or out.q is None:
        raise UserError(f"graph output {model.graph.output[0].name!r}: is not a quantized tensor")
    if low.input is None:
        raise UserError("graph input: no input Quant node; expected the image to be quantized first "
                        "(Brevitas QuantIdentity at the input)")
    low.output = out
    return low


def consumers(low: Lowered, a: Act) -> list[dict]:
    a = a.root
    return [o for o in low.ops if (o["in"].root if "in" in o else None) is a
            or any(i.root is a for i in o.get("ins", ()))]


def fuse_fire(low: Lowered) -> Lowered:
    """The ONNX pattern pass: squeeze conv -> {expand1x1, expand3x3} -> concat [-> bypass add] -> one Fire."""
    fused = []
    for sq in [o for o in low.ops if o["kind"] == "conv"]:
        if sq["k"] != 1 or sq["s"] != 1 or any(sq["pads"]):
            continue
        users = consumers(low, sq["out"])
        e1 = [u for u in users if u["kind"] == "conv" and u["k"] == 1 and u["s"] == 1 and not any(u["pads"])]
        e3 = [u for u in users if u["kind"] == "conv" and u["k"] == 3 and u["s"] == 1 and tuple(u["pads"]) == (1,) * 4]
        if len(users) != 2 or len(e1) != 1 or len(e3) != 1:
            continue
        e1, e3 = e1[0], e3[0]
        cat = consumers(low, e1["out"])
        if len(cat) != 1 or cat[0]["kind"] != "concat" or [i.root for i in cat[0]["ins"]] != [e1["out"], e3["out"]] \
                or e1["q"] != e3["q"] or not e1["relu"] or not e3["relu"]:
            continue
        cat = cat[0]
        fire = {"kind": "fire", "in": sq["in"], "squeeze": sq, "expand1x1": e1, "expand3x3": e3,
                "bypass": "none", "q": cat["q"], "members": [sq, e1, e3, cat]}
        out = cat["out"]
        add = consumers(low, out)
        if len(add) == 1 and add[0]["kind"] == "add":
            add = add[0]
            other = add["ins"][1] if add["ins"][0].root is out else add["ins"][0]
            prod = other.root.op
            if prod and prod["kind"] == "requant" and prod["in"].root is sq["in"].root and prod["q"] == e1["q"] \
                    and prod["relu"] and len(consumers(low, other)) == 1:
                fire["bypass"] = "identity"
            elif prod and prod["kind"] == "conv" and prod["in"].root is sq["in"].root and prod["k"] == 1 and prod["s"] == 1 \
                    and not any(prod["pads"]) and prod["q"] == e1["q"] and prod["relu"] \
                    and len(consumers(low, other)) == 1:
                fire["bypass"] = "conv"
                fire["bypass_conv"] = prod
            if fire["bypass"] != "none":
                fire["members"] += [prod, add]
                fire["add"] = add
                fire["q"] = add["q"]
                fire["add_relu"] = add["relu"]
                out = add["out"]
        fire["out"] = out
        out.op = fire
        fused.append(fire)
    if not fused:
        return low
    gone = {id(m) for f in fused for m in f["members"]}
    ops = []
    for o in low.ops:
        if id(o) in gone:
            f = next(f for f in fused if f["squeeze"] is o) if o["kind"] == "conv" and any(
                f["squeeze"] is o for f in fused) else None
            if f is not None:
                ops.append(f)
            continue
        ops.append(o)
    low.ops = ops
    return low


def check_supported(low: Lowered) -> None:
    for o in low.ops:
        if o["kind"] in ("concat", "add", "requant"):
            raise UserError(f"{o['kind']} producing tensor {o['out'].name!r}: only supported inside a Fire module "
                            "(squeeze 1x1 -> expand 1x1 and 3x3 -> concat [-> bypass add])")
        if o["kind"] == "gap" and o is not low.ops[-1]:
            raise UserError("GlobalAveragePool: only supported as the last layer")


# ---- emit ------------------------------------------------------------------------------------
def _conv_attrs(prefix: str, c: dict) -> list:
    b = c["b"]
    out = [helper.make_attribute(f"{prefix}w", numpy_helper.from_array(c["w"].ints.astype(np.int32))),
           helper.make_attribute(f"{prefix}wq", c["w"].q.triple()),
           helper.make_attribute(f"{prefix}relu", int(c["relu"]))]
    if b is not None:
        out += [helper.make_attribute(f"{prefix}b", numpy_helper.from_array(b.ints.astype(np.int32))),
                helper.make_attribute(f"{prefix}bq", b.q.triple())]
    return out


def emit(low: Lowered) -> tuple[onnx.ModelProto, dict]:
    """The canonical graph, and {canonical tensor: original tensor name and layout} for layer checks."""
    nodes, vinfo, golden = [], [], {}
    names: dict[int, str] = {id(low.input): "input_1"}
    counters: dict[str, int] = {}
    h, w, c = low.input.shape
    vinfo_in = helper.make_tensor_value_info("input_1", onnx.TensorProto.FLOAT, [1, h, w, c])
    for o in low.ops:
        kind = o["kind"]
        counters[kind] = counters.get(kind, 0) + 1
        name = f"{ {'conv': 'conv', 'fire': 'fire', 'maxpool': 'pool', 'gap': 'gap'}[kind]}{counters[kind]}"
        src, out = names[id(o["in"].root)], o["out"]
        names[id(out)] = name + "_out"
        attrs = [helper.make_attribute("in_q", o["in"].q.triple()), helper.make_attribute("out_q", o["q"].triple()),
                 helper.make_attribute("in_shape", list(o["in"].shape)),
                 helper.make_attribute("out_shape", list(out.shape))]
        if kind == "conv":
            op = "SqzConv"
            attrs += _conv_attrs("", o) + [helper.make_attribute("k", o["k"]), helper.make_attribute("s", o["s"]),
                                           helper.make_attribute("pads", list(o["pads"]))]
        elif kind == "maxpool":
            op = "SqzMaxPool"
            attrs += [helper.make_attribute("k", o["k"]), helper.make_attribute("s", o["s"]),
                      helper.make_attribute("pads", list(o["pads"]))]
        elif kind == "gap":
            op = "SqzGlobalAvgPool"
        else:
            op = "SqzFire"  # geometry of its 3x3 window, for the schedule (FIFO depths)
            attrs += [helper.make_attribute("k", 3), helper.make_attribute("s", 1),
                      helper.make_attribute("pads", [1, 1, 1, 1])]
            attrs += (_conv_attrs("squeeze_", o["squeeze"]) + _conv_attrs("e1_", o["expand1x1"])
                      + _conv_attrs("e3_", o["expand3x3"])
                      + [helper.make_attribute("squeeze_q", o["squeeze"]["q"].triple()),
                         helper.make_attribute("expand_q", o["expand1x1"]["q"].triple()),
                         helper.make_attribute("bypass", o["bypass"])])
            if o["bypass"] == "conv":
                attrs += _conv_attrs("bypass_", o["bypass_conv"])
            if o["bypass"] != "none":
                attrs += [helper.make_attribute("add_relu", int(o["add_relu"]))]
        node = helper.make_node(op, [src], [names[id(out)]], name=name, domain=DOMAIN)
        node.attribute.extend(attrs)
        nodes.append(node)
        vinfo.append(helper.make_tensor_value_info(names[id(out)], onnx.TensorProto.FLOAT, [1, *out.shape]))
        golden[name] = {"tensor": out.name, "nchw": out.layout == NCHW, "shape": list(out.shape),
                        "q": o["q"].triple()}
    last = nodes[-1].output[0]
    outs = [v for v in vinfo if v.name == last]
    graph = helper.make_graph(nodes, "sqzfpga", [vinfo_in], outs, value_info=vinfo)
    model = helper.make_model(graph, opset_imports=[helper.make_opsetid("", 13), helper.make_opsetid(DOMAIN, 1)])
    return model, golden


def lower(model: onnx.ModelProto) -> tuple[onnx.ModelProto, dict, Lowered]:
    low = fuse_fire(parse(model))
    check_supported(low)
    canon, golden = emit(low)
    return canon, golden, low
