"""QONNX graph -> sqzfpga's canonical streaming graph (ONNX nodes in the `sqzfpga` domain).

The exported QONNX graph spells one quantized layer as several nodes (weight and bias `Quant`s,
`Conv`, `Relu`, activation `Quant`) wrapped in layout `Transpose`s. hls4ml 1.3.0 trips over
several of these shapes (see TOOLCHAIN-NOTES). This pass rewrites the graph, before hls4ml sees
it, into one node per hardware layer, all channels-last, with integer weights and power-of-two
fixed-point types as node attributes. The layer types (conv, Fire, max pool, ...) are
registered in sqzfpga.ir.registry by their modules in sqzfpga/layers/; this module holds the
layer-independent part: the walk, the handlers of the ops every layer shares (Quant, Relu,
Transpose, Concat, Add, ...), and the passes that iterate the registry.

It is a sequence of small passes (`lower`: parse -> each layer type's pattern pass (Fire) -> check
-> emit); every tensor of the canonical graph names the tensor of the original graph it must equal, so the C simulation is
checked layer by layer against the reference executor.
"""
from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np
import onnx
from onnx import helper, numpy_helper

from sqzfpga.errors import UserError
from sqzfpga.frontend.preprocess import add_table
from sqzfpga.ir.registry import REGISTRY
from sqzfpga.ir.schema import Geometry
from sqzfpga.ir.types import QType
from sqzfpga.model import preprocess, reference

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
    flat: str = ""  # a Flatten/Reshape view: the node that flattened it (only a Dense layer may read an H x W one)

    @property
    def root(self) -> "Act":
        return self.src or self


@dataclass
class Lowered:
    ops: list = field(default_factory=list)
    input: Act | None = None
    output: Act | None = None
    input_node: str = ""  # the input Quant node (for errors about the input)


def node_where(node) -> str:
    return f"node {node.name or '(unnamed)'!r} ({node.op_type})"


def po2_exponents(scale: np.ndarray, what: str) -> np.ndarray:
    """Exponents f (one per element) with scale == 2**-f, or a UserError explaining the power-of-two requirement."""
    s = np.asarray(scale, dtype=np.float64)
    bad = ~np.isfinite(s) | (s <= 0) | (np.frexp(s)[0] != 0.5)
    if bad.any():
        at = f" (element {int(np.flatnonzero(bad)[0])} of {s.size})" if s.size > 1 else ""
        raise UserError(f"{what}: scale {s[bad].flat[0]:.6g}{at} is not a power of two; fixed-point "
                        "hardware needs positive scales 2^k: quantize with Brevitas power-of-two quantizers "
                        "(Int8WeightPerTensorFixedPoint, Int8WeightPerChannelFixedPoint, Uint8ActPerTensorFixedPoint, "
                        "...) and re-export")
    return (1 - np.frexp(s)[1]).astype(np.int64)


def po2_exponent(scale: np.ndarray, what: str) -> int:
    """The exponent f of a per-tensor scale 2**-f (activations), or a UserError."""
    s = np.unique(np.asarray(scale, dtype=np.float64))
    if s.size != 1 or not np.isfinite(s[0]) or s[0] <= 0:
        raise UserError(f"{what}: scale {s.tolist()[:4]} is not one positive per-tensor value; sqzfpga needs "
                        "per-tensor power-of-two scales (Brevitas *PerTensorFixedPoint quantizers)")
    return int(po2_exponents(s[0], what))


class Walk:
    """State of one walk over a QONNX graph: constants, activation tensors by name, the ops so far."""

    def __init__(self, model: onnx.ModelProto):
        g = model.graph
        self.inits = {t.name: numpy_helper.to_array(t).astype(np.float64) for t in g.initializer}
        self.consts: dict[str, Const] = {}
        self.vals: dict[str, Act] = {}
        self.lowered = Lowered()
        inp = g.input[0]
        _, c, h, w = (d.dim_value for d in inp.type.tensor_type.shape.dim)
        self.raw = self.vals[inp.name] = Act(inp.name, (h, w, c), None, NCHW)

    def act(self, node, i=0, flattened: bool = False) -> Act:
        """The activation tensor of input i; a flattened H x W map only where `flattened` (a Dense layer)."""
        tensor = self.vals.get(node.input[i])
        if tensor is None:
            raise UserError(f"{node_where(node)}: input {i} is not an activation tensor; expected a streaming "
                            "image tensor here")
        if not flattened:
            check_unflattened(tensor)
        return tensor

    def quantized(self, node, i=0, flattened: bool = False) -> Act:
        tensor = self.act(node, i, flattened)
        if tensor.q is None:
            raise UserError(f"{node_where(node)}: its input is not quantized; every layer input must come from a "
                            "power-of-two Quant node")
        return tensor

    def const(self, node, i) -> Const | None:
        if i >= len(node.input) or not node.input[i]:
            return None
        cst = self.consts.get(node.input[i])
        if cst is None:
            raise UserError(f"{node_where(node)}: input {i} is not a quantized constant; weights and biases must "
                            "be Quant nodes on initializers with power-of-two scales")
        return cst

    def add(self, node, op: dict, shape, q=None, layout=None) -> Act:
        """Record `op` producing the node's output; quantized ops are complete, others wait for a Quant."""
        op.setdefault("node", node.name)  # for errors
        tensor = Act(node.output[0], tuple(shape), q, layout or op["in"].layout, op)
        self.lowered.ops.append(op)
        if q is not None:
            op["out"] = tensor
        self.vals[node.output[0]] = tensor
        return tensor


OP_HANDLERS: dict = {}  # ONNX op type -> handler(walk, node, attrs), registered with @handles


def handles(*ops):
    def register(fn):
        for op in ops:
            OP_HANDLERS[op] = fn
        return fn
    return register


@handles("Quant")
def _quant(walk: Walk, node, attrs):
    x, out = node.input[0], node.output[0]
    scale, zp, bits = (walk.inits.get(node.input[i]) for i in (1, 2, 3))
    if scale is None or zp is None or bits is None:
        raise UserError(f"{node_where(node)}: scale, zero point and bit width must be constants")
    if np.any(zp != 0):
        raise UserError(f"{node_where(node)}: zero point {np.unique(zp).tolist()[:4]} is not 0; sqzfpga needs "
                        "symmetric (zero-point 0) quantizers")
    kind = "constant" if x in walk.inits else "activation"
    if bits.size != 1 or not float(bits.item()).is_integer() or not 2 <= bits.item() <= MAX_BITS[kind]:
        raise UserError(f"{node_where(node)}: {kind} bit width {np.ravel(bits).tolist()[:4]}; expected an integer from "
                        f"2 to {MAX_BITS[kind]} (re-export with 2- to 8-bit weights and activations)")
    if attrs.get("rounding_mode", b"ROUND") not in (b"ROUND", "ROUND"):
        raise UserError(f"{node_where(node)}: rounding mode {attrs['rounding_mode']!r}; expected ROUND "
                        "(round half to even)")
    if x in walk.inits:  # a weight or bias: keep its integers
        walk.consts[out] = _constant(node, walk.inits[x], scale, zp, bits, attrs)
        return
    f = po2_exponent(scale, node_where(node))
    q = QType(int(bits.item()), f, bool(attrs.get("signed", 1)))
    if attrs.get("narrow", 0):
        raise UserError(f"{node_where(node)}: narrow-range activation quantizers are not supported; "
                        "use full-range activation quantizers (Brevitas *ActPerTensorFixedPoint)")
    tensor = walk.act(node)
    if tensor.root is walk.raw:  # the input quantizer: the hardware input stream carries this type
        new = walk.lowered.input = Act(out, tensor.shape, q, tensor.layout)
        walk.lowered.input_node = node.name
    elif tensor.q is None and tensor.op is not None and "q" not in tensor.op:  # finalise a pending layer
        tensor.op["q"] = q
        tensor.op["out"] = new = Act(out, tensor.shape, q, tensor.layout, tensor.op)
    else:  # a requantisation of an already quantized tensor
        new = walk.add(node, {"kind": "requant", "in": walk.quantized(node), "relu": False, "q": q}, tensor.shape, q)
    walk.vals[out] = new


def _constant(node, x: np.ndarray, scale, zp, bits, attrs) -> Const:
    """A quantized weight or bias as integers at the finest of its power-of-two scales (per tensor, or per
    output channel as Brevitas *PerChannelFixedPoint quantizers give). A channel of coarser scale
    2^-f_c holds k_c << (f - f_c), exactly; the type widens by the spread max f_c - min f_c, so a layer
    keeps one per-tensor weight type and both backends stay exact (their accumulators follow the type)."""
    where = node_where(node)
    if np.broadcast_shapes(np.shape(scale), x.shape) != x.shape:
        raise UserError(f"{where}: scale of shape {list(np.shape(scale))} for a constant of shape {list(x.shape)}; "
                        "expected one scale per tensor or per output channel")
    fs = po2_exponents(scale, where)
    f, spread, nbits = int(fs.max()), int(fs.max() - fs.min()), int(bits.item())
    ints = np.rint(reference.quant(x, scale, zp, bits, **attrs) * 2.0 ** f).astype(np.int64)
    if nbits + spread > MAX_BITS["constant"]:  # e.g. a 32-bit bias: wide enough where its integers fit
        need = QType(MAX_BITS["constant"], f, bool(attrs.get("signed", 1)))
        if ints.min() < need.lo or ints.max() > need.hi:
            raise UserError(f"{where}: per-channel scales 2^{-int(fs.min())} .. 2^{-f} span {spread} binary places; "
                            f"at the finest scale the {nbits}-bit constants need {nbits + spread} bits, over "
                            f"sqzfpga's {MAX_BITS['constant']}; use fewer bits (Int8 weights, Int16 bias), a "
                            "per-tensor quantizer, or channels of closer ranges")
        return Const(ints, need)
    return Const(ints, QType(nbits + spread, f, bool(attrs.get("signed", 1))))


@handles("Relu")
def _relu(walk: Walk, node, attrs):
    tensor = walk.act(node)
    if tensor.q is None and tensor.op is not None:  # fused into the pending layer
        tensor.op["relu"] = True
        walk.vals[node.output[0]] = Act(node.output[0], tensor.shape, None, tensor.layout, tensor.op)
    else:  # relu on a quantized tensor: must be followed by a Quant (a requant with relu)
        walk.add(node, {"kind": "requant", "in": walk.quantized(node), "relu": True}, tensor.shape)


@handles("Transpose")
def _transpose(walk: Walk, node, attrs):
    tensor = walk.act(node)
    perm = tuple(attrs.get("perm", ()))
    if not (perm == NHWC and tensor.layout == NCHW or perm == NCHW and tensor.layout == NHWC):
        raise UserError(f"{node_where(node)}: transpose {list(perm)} of a {'NCHW' if tensor.layout == NCHW else 'NHWC'}"
                        " tensor; only NCHW <-> NHWC layout changes are supported")
    walk.vals[node.output[0]] = Act(node.output[0], tensor.shape, tensor.q, perm, tensor.op, tensor.root)


def check_layout(node, tensor: Act) -> None:
    if (node.domain == reference.CHANNELS_LAST) != (tensor.layout == NHWC):
        raise UserError(f"{node_where(node)}: data layout does not match the node's domain")


@handles("Concat")
def _concat(walk: Walk, node, attrs):
    ins = [walk.quantized(node, i) for i in range(len(node.input))]
    if attrs["axis"] % 4 != (1 if ins[0].layout == NCHW else 3):
        raise UserError(f"{node_where(node)}: concatenation along axis {attrs['axis']} is not over channels")
    if len({i.q for i in ins}) != 1 or len({i.shape[:2] for i in ins}) != 1 or len(ins) != 2:
        raise UserError(f"{node_where(node)}: concat inputs must be two tensors of one type and size "
                        "(give both expand branches one activation quantizer)")
    walk.add(node, {"kind": "concat", "ins": ins, "q": ins[0].q},
          ins[0].shape[:2] + (sum(i.shape[2] for i in ins),), ins[0].q, ins[0].layout)


@handles("Add")
def _add(walk: Walk, node, attrs):
    if any(i in walk.inits or i in walk.consts for i in node.input):
        raise UserError(f"{node_where(node)}: adds a constant; biases are supported as a layer's own input (Conv "
                        "or Gemm: Brevitas QuantConv2d / QuantLinear with bias=True), not as a separate Add")
    ins = [walk.quantized(node, i) for i in range(2)]
    if ins[0].shape != ins[1].shape:
        raise UserError(f"{node_where(node)}: adds tensors of shapes {ins[0].shape} and {ins[1].shape}")
    walk.add(node, {"kind": "add", "ins": ins, "relu": False}, ins[0].shape, layout=ins[0].layout)


@handles("Flatten", "Reshape")
def _flatten(walk: Walk, node, attrs):
    """A view of the map as (batch, H*W*C) in the original graph's order (its layout says which); the
    canonical graph keeps the map, and a Dense layer reads it in that order (an H x W map may only be
    flattened into one, see check_unflattened)."""
    tensor = walk.act(node)
    h, w, c = tensor.shape
    shape = walk.inits.get(node.input[1]) if node.op_type == "Reshape" else None
    flat = attrs.get("axis", 1) == 1 if node.op_type == "Flatten" else \
        shape is not None and shape.size == 2 and shape[0] in (0, 1) and shape[1] in (-1, h * w * c)
    if not flat and (h, w) != (1, 1):
        raise UserError(f"{node_where(node)}: reshapes a {h}x{w}x{c} map other than to (batch, {h * w * c}); only a "
                        "flatten (torch.flatten(x, 1) or x.view(x.size(0), -1)) into a Dense layer is supported")
    walk.vals[node.output[0]] = Act(node.output[0], tensor.shape, tensor.q, tensor.layout, tensor.op, tensor.root,
                                    node_where(node))


def check_unflattened(tensor: Act) -> None:
    """A flattened H x W map is only read by a Dense layer (Gemm/MatMul), not by other ops or as the output."""
    if tensor.flat and tensor.shape[:2] != (1, 1):
        raise UserError(f"{tensor.flat}: flattens a {tensor.shape[0]}x{tensor.shape[1]} map; only a Dense layer "
                        "(Gemm or MatMul: Brevitas QuantLinear) may read a flattened map (else flatten only the "
                        "final 1x1 class scores)")


def handler_of(op_type: str):
    """The generic handler of an ONNX op, or the parse method of the layer type that owns it."""
    if op_type in OP_HANDLERS:
        return OP_HANDLERS[op_type]
    return next((t.parse for t in REGISTRY.values() if op_type in t.onnx_ops), None)


def supported() -> tuple[str, ...]:
    return tuple(OP_HANDLERS) + tuple(op for layer_type in REGISTRY.values() for op in layer_type.onnx_ops)


def parse(model: onnx.ModelProto) -> Lowered:
    """Walk the QONNX graph once; each op's handler turns node groups into layer ops (dicts) on `Act`s."""
    walk = Walk(model)
    for node in model.graph.node:
        handler = handler_of(node.op_type)
        if handler is None:
            advice = reference.ADVICE.get(node.op_type, f"supported ops: {', '.join(supported())}")
            raise UserError(f"{node_where(node)}: op {node.domain + '.' if node.domain else ''}{node.op_type} is not "
                            f"supported; {advice}")
        handler(walk, node, {a.name: helper.get_attribute_value(a) for a in node.attribute})
    lowered = walk.lowered
    for op in lowered.ops:
        if "q" not in op:
            raise UserError(f"{op['kind']} layer at node {op['node'] or '(unnamed)'!r}: its output is not quantized; "
                            "follow every layer with a power-of-two activation Quant (in Brevitas a QuantReLU or "
                            "QuantIdentity with a *PerTensorFixedPoint act_quant)")
    out = walk.vals.get(model.graph.output[0].name)
    if out is not None:
        check_unflattened(out)
    if out is None or out.q is None:
        raise UserError(f"graph output {model.graph.output[0].name!r}: is not a quantized tensor")
    if lowered.input is None:
        raise UserError("graph input: no input Quant node; expected the image to be quantized first "
                        "(Brevitas QuantIdentity at the input)")
    lowered.output = out
    return lowered


def consumers(lowered: Lowered, tensor: Act) -> list[dict]:
    """The ops that read `tensor` (or a layout view of it)."""
    tensor = tensor.root
    return [op for op in lowered.ops if (op["in"].root if "in" in op else None) is tensor
            or any(i.root is tensor for i in op.get("ins", ()))]


def check_supported(lowered: Lowered) -> None:
    """Every op left after the pattern passes is a registered layer type, in a place it allows."""
    kinds = {layer_type.kind: layer_type for layer_type in REGISTRY.values()}
    for op in lowered.ops:
        if op["kind"] not in kinds:
            raise UserError(f"{op['kind']} producing tensor {op['out'].name!r}: only supported inside a Fire module "
                            "(squeeze 1x1 -> expand 1x1 and 3x3 -> concat [-> bypass add])")
    for i, op in enumerate(lowered.ops):
        layer_type = kinds[op["kind"]]
        if layer_type.last_only and not all(kinds[o["kind"]].head for o in lowered.ops[i + 1:]):
            name = layer_type.onnx_ops[0] if layer_type.onnx_ops else layer_type.op
            heads = ", ".join(o for t in kinds.values() if t.head for o in t.onnx_ops)
            raise UserError(f"{name}: only supported as the last layer or before a classifier head ({heads})")


def emit(lowered: Lowered) -> tuple[onnx.ModelProto, dict]:
    """The canonical graph, and {canonical tensor: original tensor name and layout} for layer checks.

    Each op becomes one node of its layer type's canonical op, named <short><n>, with the attributes every
    layer has (types and shapes) followed by the layer type's own."""
    kinds = {layer_type.kind: layer_type for layer_type in REGISTRY.values()}
    nodes, vinfo, golden = [], [], {}
    names: dict[int, str] = {id(lowered.input): "input_1"}
    counters: dict[str, int] = {}
    h, w, c = lowered.input.shape
    vinfo_in = helper.make_tensor_value_info("input_1", onnx.TensorProto.FLOAT, [1, h, w, c])
    for op in lowered.ops:
        layer_type = kinds[op["kind"]]
        counters[op["kind"]] = counters.get(op["kind"], 0) + 1
        name = f"{layer_type.short}{counters[op['kind']]}"
        src, out = names[id(op["in"].root)], op["out"]
        names[id(out)] = name + "_out"
        node = helper.make_node(layer_type.op, [src], [names[id(out)]], name=name, domain=DOMAIN)
        node.attribute.extend(helper.make_attribute(k, v) for k, v in Geometry.attributes(op) + layer_type.attributes(op))
        nodes.append(node)
        vinfo.append(helper.make_tensor_value_info(names[id(out)], onnx.TensorProto.FLOAT, [1, *out.shape]))
        golden[name] = {"tensor": out.name, "nchw": out.layout == NCHW, "shape": list(out.shape),
                        "q": op["q"].triple()}
    last = nodes[-1].output[0]
    outs = [v for v in vinfo if v.name == last]
    graph = helper.make_graph(nodes, "sqzfpga", [vinfo_in], outs, value_info=vinfo)
    model = helper.make_model(graph, opset_imports=[helper.make_opsetid("", 13), helper.make_opsetid(DOMAIN, 1)])
    return model, golden


def lower(model: onnx.ModelProto) -> tuple[onnx.ModelProto, dict, Lowered]:
    """parse -> every layer type's pattern pass -> the input table (bytes -> the input quantizer's integers
    under the preprocessing the model's metadata states, as the reference executor applies it) -> check
    -> emit (import sqzfpga.layers first: it registers the layer types and re-exports this function)."""
    if not REGISTRY:
        raise RuntimeError("no layer types are registered: import lower from sqzfpga.layers")
    lowered = parse(model)
    for layer_type in REGISTRY.values():
        lowered = layer_type.fuse(lowered)
    lowered = add_table(lowered, preprocess.of(model), lowered.input_node, model.graph.input[0].name)
    check_supported(lowered)
    canon, golden = emit(lowered)
    return canon, golden, lowered
