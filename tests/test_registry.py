"""The layer registry: a layer type is one module, incomplete ones fail at import, and the stages that
iterate the registry name no layer type themselves (so a new one needs no edit there)."""
import re
from pathlib import Path

import numpy as np
import pytest

from sqzfpga.errors import UserError
from sqzfpga.ir import registry
from sqzfpga.ir.registry import LayerType, register
from sqzfpga.layers import REGISTRY

PACKAGE = Path(__file__).resolve().parents[1] / "sqzfpga"
# the files that iterate the registry: they may not spell a layer type (op, kind switch or attribute prefix)
GENERIC = ("frontend/lower.py", "hls/layers.py", "hls/fit.py", "hls/convert.py", "rtl/generate.py",
           "rtl/plan.py", "rtl/cost.py", "rtl/rom.py", "ir/schema.py")


def complete_methods() -> dict:
    """Every abstract method of LayerType, implemented trivially (a minimal complete layer type)."""
    return {name: (lambda self, *args: None) for name in LayerType.__abstractmethods__}


def test_every_layer_type_is_complete_and_registered_once():
    assert {"SqzConv", "SqzFire", "SqzMaxPool", "SqzGlobalAvgPool"} <= set(REGISTRY)
    for op, layer_type in REGISTRY.items():
        assert layer_type.op == op
        assert not getattr(type(layer_type), "__abstractmethods__", None), op
    assert len({t.kind for t in REGISTRY.values()}) == len(REGISTRY)
    assert len({t.short for t in REGISTRY.values()}) == len(REGISTRY)


def test_a_layer_type_missing_a_method_fails_at_registration():
    methods = complete_methods()
    del methods["rtl"]
    incomplete = type("NoRtl", (LayerType,), {"op": "SqzNoRtl", "kind": "nortl", "short": "nortl",
                                                "hls_function": "x.jinja", **methods})
    with pytest.raises(TypeError, match="rtl"):
        register(incomplete)
    assert "SqzNoRtl" not in registry.REGISTRY


def test_a_layer_type_missing_a_name_or_taken_op_fails():
    no_name = type("NoName", (LayerType,), {"kind": "x", "short": "x", "hls_function": "x.jinja",
                                            **complete_methods()})
    with pytest.raises(TypeError, match="'op'"):
        register(no_name)
    twice = type("Twice", (LayerType,), {"op": "SqzConv", "kind": "x", "short": "x", "hls_function": "x.jinja",
                                         **complete_methods()})
    with pytest.raises(TypeError, match="already registered"):
        register(twice)
    assert type(REGISTRY["SqzConv"]).__name__ == "Conv"


def test_load_names_a_missing_or_malformed_attribute():
    attrs = {"in_q": [8, 0, 0], "out_q": [8, 4, 0], "in_shape": [5, 5, 2], "out_shape": [5, 5, 4],
             "k": 1, "s": 1, "pads": [0, 0, 0, 0], "w": np.ones((4, 1, 1, 2), dtype=np.int64), "wq": [4, 3, 1],
             "relu": 1}
    conv = REGISTRY["SqzConv"].load(attrs)
    assert conv.conv.filters == 4 and conv.geo.in_q.bits == 8 and conv.conv.b is None
    with pytest.raises(UserError, match="wq"):
        REGISTRY["SqzConv"].load({k: v for k, v in attrs.items() if k != "wq"})
    with pytest.raises(UserError, match="filters x K x K x channels"):
        REGISTRY["SqzConv"].load({**attrs, "w": np.ones((4, 2), dtype=np.int64)})
    with pytest.raises(UserError, match="bias"):
        REGISTRY["SqzFire"].load({**attrs, "squeeze_q": [8, 4, 0], "expand_q": [8, 4, 0], "bypass": "bias",
                                  **{f"{p}{k}": attrs[k] for p in ("squeeze_", "e1_", "e3_") for k in ("w", "wq", "relu")}})


def test_generic_stages_spell_no_layer_type():
    """The lowering, hls4ml registration, fit, RTL generator, planner and cost model iterate the registry;
    none names a layer type's op or its weight prefixes, so a new layer type needs no edit in them."""
    spelled = re.compile(r"Sqz(Conv|Fire|MaxPool|GlobalAvgPool)\b|\"(squeeze|e1|e3|bypass)_\"|\"(maxpool|gap|fire)\"")
    found = {f: m.group(0) for f in GENERIC if (m := spelled.search((PACKAGE / f).read_text()))}
    assert not found, f"layer types spelled outside sqzfpga/layers/: {found}"
    # the check can fail: the layer modules do spell them
    assert spelled.search((PACKAGE / "layers" / "fire.py").read_text())
