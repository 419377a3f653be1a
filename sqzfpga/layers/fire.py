"""The Fire module: squeeze 1x1 -> (expand 1x1 || expand 3x3) -> concat [+ bypass add], one streaming layer.

No QONNX op of its own: `fuse` finds the pattern among the lowered convs (the ONNX pattern pass) and
replaces its members with one op -> `SqzFire`; HLS `sqz::fire` (templates/sqz_layers.h), RTL
`sqz_fire` (three conv-like units: squeeze, the fused expands, the optional bypass conv).
"""
from __future__ import annotations

from dataclasses import dataclass

from sqzfpga.errors import UserError
from sqzfpga.frontend.lower import Lowered, consumers
from sqzfpga.hls.cycles import Dataflow, Process
from sqzfpga.hls.kernel import (Field, apply_fold, beat_of, conv_struct, conv_weights, struct, sweep, unit_dataflow,
                                weight_pragmas)
from sqzfpga.hls.kernel import bool_text as _b
from sqzfpga.hls.types import cpp_type
from sqzfpga.ir.registry import LayerType, register, require
from sqzfpga.ir.types import QType
from sqzfpga.ir.schema import ConvWeights, Geometry, Window
from sqzfpga.rtl.rom import ConvSpec, line_style, window_rows
from sqzfpga.rtl.unit import Unit

BYPASSES = ("none", "identity", "conv")
PREFIX = {"squeeze": "squeeze_", "expand1x1": "e1_", "expand3x3": "e3_", "bypass": "bypass_"}  # attribute prefixes
UNIT_PREFIX = {"squeeze": "squeeze_", "expand": "expand_", "bypass": "bypass_"}  # HLS weight names per unit
WINDOW = Window(3, 1, (1, 1, 1, 1))  # the 3x3 expand's window: the layer's output schedule (FIFO depths)


@dataclass(frozen=True)
class FireAttrs:
    geo: Geometry
    squeeze: ConvWeights
    expand1x1: ConvWeights
    expand3x3: ConvWeights
    squeeze_q: QType          # the squeeze's output type
    expand_q: QType           # the expands' output type (the concat's; before the bypass add)
    bypass: str               # one of BYPASSES
    bypass_conv: ConvWeights | None
    add_relu: bool

    def convs(self) -> dict[str, ConvWeights]:
        out = {"squeeze": self.squeeze, "expand1x1": self.expand1x1, "expand3x3": self.expand3x3}
        if self.bypass == "conv":
            out["bypass"] = self.bypass_conv
        return out


def fuse(lowered: Lowered) -> Lowered:
    """The ONNX pattern pass: squeeze conv -> {expand1x1, expand3x3} -> concat [-> bypass add] -> one Fire."""
    fused = []
    for sq in [o for o in lowered.ops if o["kind"] == "conv"]:
        if sq["k"] != 1 or sq["s"] != 1 or any(sq["pads"]):
            continue
        users = consumers(lowered, sq["out"])
        e1 = [u for u in users if u["kind"] == "conv" and u["k"] == 1 and u["s"] == 1 and not any(u["pads"])]
        e3 = [u for u in users if u["kind"] == "conv" and u["k"] == 3 and u["s"] == 1 and tuple(u["pads"]) == (1,) * 4]
        if len(users) != 2 or len(e1) != 1 or len(e3) != 1:
            continue
        e1, e3 = e1[0], e3[0]
        cat = consumers(lowered, e1["out"])
        if len(cat) != 1 or cat[0]["kind"] != "concat" or [i.root for i in cat[0]["ins"]] != [e1["out"], e3["out"]] \
                or e1["q"] != e3["q"] or not e1["relu"] or not e3["relu"]:
            continue
        cat = cat[0]
        fire = {"kind": "fire", "in": sq["in"], "squeeze": sq, "expand1x1": e1, "expand3x3": e3,
                "bypass": "none", "q": cat["q"], "members": [sq, e1, e3, cat]}
        out = cat["out"]
        add = consumers(lowered, out)
        if len(add) == 1 and add[0]["kind"] == "add":
            add = add[0]
            other = add["ins"][1] if add["ins"][0].root is out else add["ins"][0]
            prod = other.root.op
            if prod and prod["kind"] == "requant" and prod["in"].root is sq["in"].root and prod["q"] == e1["q"] \
                    and prod["relu"] and len(consumers(lowered, other)) == 1:
                fire["bypass"] = "identity"
            elif prod and prod["kind"] == "conv" and prod["in"].root is sq["in"].root and prod["k"] == 1 and prod["s"] == 1 \
                    and not any(prod["pads"]) and prod["q"] == e1["q"] and prod["relu"] \
                    and len(consumers(lowered, other)) == 1:
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
        return lowered
    gone = {id(m) for f in fused for m in f["members"]}
    ops = []
    for o in lowered.ops:
        if id(o) in gone:
            f = next(f for f in fused if f["squeeze"] is o) if o["kind"] == "conv" and any(
                f["squeeze"] is o for f in fused) else None
            if f is not None:
                ops.append(f)
            continue
        ops.append(o)
    lowered.ops = ops
    return lowered


@register
class Fire(LayerType):
    op, kind, short = "SqzFire", "fire", "fire"
    hls_function = "fire_function.cpp.jinja"

    def fuse(self, lowered):
        return fuse(lowered)

    def attributes(self, op):
        out = WINDOW.attributes()
        out += (ConvWeights.of_op(op["squeeze"]).attributes(PREFIX["squeeze"])
                + ConvWeights.of_op(op["expand1x1"]).attributes(PREFIX["expand1x1"])
                + ConvWeights.of_op(op["expand3x3"]).attributes(PREFIX["expand3x3"])
                + [("squeeze_q", op["squeeze"]["q"].triple()), ("expand_q", op["expand1x1"]["q"].triple()),
                   ("bypass", op["bypass"])])
        if op["bypass"] == "conv":
            out += ConvWeights.of_op(op["bypass_conv"]).attributes(PREFIX["bypass"])
        if op["bypass"] != "none":
            out += [("add_relu", int(op["add_relu"]))]
        return out

    def load(self, attrs):
        where = "SqzFire layer"
        require(attrs, ("squeeze_q", "expand_q", "bypass"), where)
        bypass = attrs["bypass"]
        if bypass not in BYPASSES:
            raise UserError(f"{where}: bypass {bypass!r}; expected one of {', '.join(BYPASSES)}")
        if bypass != "none":
            require(attrs, ("add_relu",), where)
        return FireAttrs(Geometry.load(attrs, where), *(ConvWeights.load(attrs, PREFIX[r], where)
                                                         for r in ("squeeze", "expand1x1", "expand3x3")),
                         QType.of(attrs["squeeze_q"]), QType.of(attrs["expand_q"]), bypass,
                         ConvWeights.load(attrs, PREFIX["bypass"], where) if bypass == "conv" else None,
                         bool(attrs.get("add_relu")))

    # ---- HLS ----
    def _hls(self, layer):
        """Typed attributes and the units' ConvSpecs {role: spec}, folded as the layer's `fold` says."""
        a = self.load(layer.attributes)
        specs = self._specs(a, "u")
        apply_fold([s.unit for s in specs.values()], "u", layer.get_attr("fold", ""))
        return a, specs

    @staticmethod
    def _sweeps(a, specs, bin_) -> dict:
        h, w, c = a.geo.in_shape
        sq = specs["squeeze"].unit
        out = {"squeeze": sweep(h, w, c, 1, 1, (0,) * 4, h, w, bin_, sq.nstep),
               "expand": sweep(h, w, a.squeeze.filters, 3, 1, (1,) * 4, h, w, sq.po, specs["expand"].unit.nstep)}
        if "bypass" in specs:
            out["bypass"] = sweep(h, w, c, 1, 1, (0,) * 4, h, w, bin_, specs["bypass"].unit.nstep)
        return out

    def hls_weights(self, layer):
        for role, spec in self._hls(layer)[1].items():
            conv_weights(layer, UNIT_PREFIX[role], spec)

    def hls_beat(self, layer):
        return self._hls(layer)[1]["expand"].unit.po

    def hls_config(self, node, geometry):
        a, specs = self._hls(node)
        bin_ = beat_of(node.get_input_variable())
        sweeps = self._sweeps(a, specs, bin_)
        name = geometry["name"]
        parts = [conv_struct(f"{name}_{role}", spec, sweeps[role], node, UNIT_PREFIX[role]) for role, spec in specs.items()]
        xq, eq, oq = a.geo.in_q, specs["expand"].oq, a.geo.out_q
        h, w, c = a.geo.in_shape
        oc = a.geo.out_shape[2]
        types = {role: f"{name}_{role}" for role in specs}
        types["squeeze_beat"] = f"nnet::array<{cpp_type(a.squeeze_q)}, {specs['squeeze'].unit.po}>"
        types["expand_beat"] = f"nnet::array<{cpp_type(eq)}, {specs['expand'].unit.po}>"
        fields = []
        if a.bypass != "none":
            by = specs.get("bypass")
            if by is not None:
                types["bypass_beat"] = f"nnet::array<{cpp_type(eq)}, {by.unit.po}>"
            bq = xq if by is None else eq
            adder = [Field("unsigned", "C", oc), Field("unsigned", "PIXELS", h * w),
                     Field("bool", "ASIGNED", _b(eq.signed)), Field("bool", "BSIGNED", _b(bq.signed)),
                     Field("int", "BD", xq.frac - eq.frac if by is None else 0), Field("bool", "BRELU", _b(by is None)),
                     Field("bool", "OSIGNED", _b(oq.signed)), Field("int", "OD", eq.frac - oq.frac),
                     Field("bool", "ORELU", _b(a.add_relu))]
            parts.append(struct(f"{name}_adder", adder))
            types["adder"] = f"{name}_adder"
            fields.append(Field("unsigned", "BYPASS_DEPTH", (w + 4) * (c // bin_)))
        return "".join(parts) + struct(name, fields, types)

    def hls_call(self, node):
        a, specs = self._hls(node)
        return {"function": {"none": "fire", "identity": "fire_identity", "conv": "fire_conv"}[a.bypass],
                "pragmas": [p for role, spec in specs.items() for p in weight_pragmas(node, UNIT_PREFIX[role], spec)]}

    def hls_dataflow(self, layer, bin_):
        a, specs = self._hls(layer)
        sweeps = self._sweeps(a, specs, bin_)
        flows = [unit_dataflow(spec.unit, sweeps[role], f"{layer.name}.{role}") for role, spec in specs.items()]
        procs = [p for f in flows for p in f.processes]
        streams = [s for f in flows for s in f.streams]
        h, w, c = a.geo.in_shape
        sq, ex = specs["squeeze"], specs["expand"]
        streams.append((sq.unit.po * sq.oq.bits, 2))  # squeeze -> expand
        if a.bypass != "none":
            oc, beats = a.geo.out_shape[2], c // bin_
            by = specs.get("bypass")
            nb = bin_ if by is None else by.unit.po
            procs += [Process(f"{layer.name}.dup", h * w * beats),
                      Process(f"{layer.name}.add", h * w * (oc // ex.unit.po + oc // nb))]
            streams += [(bin_ * a.geo.in_q.bits, 2), (bin_ * a.geo.in_q.bits, (w + 4) * beats),
                        (ex.unit.po * ex.oq.bits, 2)]
            if by is not None:
                streams.append((by.unit.po * by.oq.bits, 2))
        return Dataflow(procs, streams)

    # ---- RTL ----
    def _specs(self, a, name) -> dict:
        """{role: ConvSpec} of the units: squeeze, the fused expands, the bypass conv (if any)."""
        (h, w, c), (_, _, oc) = a.geo.in_shape, a.geo.out_shape
        xq, sq, eq, oq = a.geo.in_q, a.squeeze_q, a.expand_q, a.geo.out_q
        nsq, ne1 = a.squeeze.filters, a.expand1x1.filters
        px = h * w
        out = {"squeeze": ConvSpec(Unit(f"{name}.squeeze", "conv", px, px, cin=c, segments=[(nsq, 1)]), xq, sq,
                                   [a.squeeze.segment()]),
               "expand": ConvSpec(Unit(f"{name}.expand", "conv", px, px, cin=nsq,
                                       segments=[(ne1, 1), (a.expand3x3.filters, 3)], row_px=w, rows=window_rows(3, 1, h, h, 1)),
                                  sq, eq if a.bypass != "none" else oq, [a.expand1x1.segment(1), a.expand3x3.segment(3)])}
        if a.bypass == "conv":
            out["bypass"] = ConvSpec(Unit(f"{name}.bypass", "conv", px, px, cin=c, segments=[(oc, 1)]), xq, eq,
                                     [a.bypass_conv.segment()])
        return out

    def rtl(self, layer, name):
        a = self.load(layer.attributes)
        h, w, c = a.geo.in_shape
        xq, sq, eq, oq = a.geo.in_q, a.squeeze_q, a.expand_q, a.geo.out_q
        nsq, ne1 = a.squeeze.filters, a.expand1x1.filters
        specs = list(self._specs(a, name).values())
        squeeze, expand = specs[0], specs[1]

        def render_sv(folder):
            p = {"H": h, "W": w, "CI": c, "IB": xq.bits, "ISIGNED": int(xq.signed), "SQ": nsq, "SB": sq.bits,
                 "SSIGNED": int(sq.signed),
                 "E1": ne1, "E3": a.expand3x3.filters, "EB": expand.oq.bits, "ESIGNED": int(expand.oq.signed),
                 "OB": oq.bits, "OSIGNED": int(oq.signed),
                 "S_LBSTYLE": line_style(squeeze.unit),
                 "E_LBSTYLE": line_style(expand.unit)}
            if a.bypass == "conv":
                p["B_LBSTYLE"] = line_style(specs[2].unit)
            for prefix, spec in zip(("S_", "E_", "B_"), specs):
                q = spec.params(folder, f"{name}_{prefix[0].lower()}")
                if prefix != "E_":  # one segment: PROD_SHIFT0/RELU0 are spelled PROD_SHIFT/RELU
                    q["PROD_SHIFT"], q["RELU"] = q.pop("PROD_SHIFT0"), q.pop("RELU0")
                p.update({prefix + k: v for k, v in q.items()})
            if a.bypass != "none":
                p.update(BYPASS=1 if a.bypass == "identity" else 2, BYPASS_DEPTH=w + 4, ADD_SHIFT=eq.frac - oq.frac,
                         A_RELU=int(a.add_relu), ID_SHIFT=xq.frac - eq.frac)
            return "sqz_fire", p
        return [s.unit for s in specs], render_sv
