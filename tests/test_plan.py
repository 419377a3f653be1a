"""The folding planner and cost model on synthetic dataflows (no graph, no simulator): budgets are
respected, DSP packing is chosen where the DSP budget binds and only where the packed coefficient
fits the DSP's port, and a frame-rate target is met with less hardware."""
from __future__ import annotations

import pytest

from sqzfpga.errors import UserError
from sqzfpga.parts import get_part
from sqzfpga.rtl.cost import estimate
from sqzfpga.rtl.plan import Budget, Unit, Unreachable, budget, can_pack, plan


def units(wbits=4):
    return [Unit("input", "adapter", 3 * 1024, 1024),
            Unit("conv1", "conv", 1024, 1024, cin=3, segments=[(64, 3)], row_px=32, rows=4, wbits=wbits),
            Unit("pool1", "pool", 1024, 256, cin=64, taps=9, row_px=32, rows=4),
            Unit("fire.squeeze", "conv", 256, 256, cin=64, segments=[(16, 1)], wbits=wbits),
            Unit("fire.expand", "conv", 256, 256, cin=16, segments=[(64, 1), (64, 3)], row_px=16, rows=4,
                 wbits=wbits)]


def test_plan_respects_every_budget_and_balances():
    bud = budget(get_part("xc7z020"))
    p = plan(us := units(), bud)
    assert all(p["estimate"][k] <= bud.limits()[k] for k in bud.limits())
    assert p["cycles_per_frame"] == max(u.cycles for u in us)
    # no unit could be folded narrower at no more cycles than the bottleneck's and still be cheaper
    assert p["bottleneck"] in {u.name for u in us}


def test_packing_and_lut_multipliers_where_dsps_bind_and_only_where_they_fit():
    tight = Budget(dsp=8, lut=10**6, ff=10**6, bram36=10**3)
    p = plan(units(4), tight)
    assert p["dsp"] <= 8 and p["lanes"] > 2 * p["dsp"]  # 4-bit weights: LUTs plentiful, DSPs scarce
    assert any(u["lutmul"] for u in p["units"])
    both = plan(units(4), Budget(dsp=8, lut=3000, ff=10**6, bram36=10**3))
    assert both["dsp"] <= 8 and both["estimate"]["lut"] <= 3000
    assert any(u["pack"] == 2 for u in both["units"])  # DSPs used packed once LUTs run short too
    no_luts = plan(units(4), Budget(dsp=10**3, lut=2500, ff=10**6, bram36=10**3))
    assert not any(u["lutmul"] for u in no_luts["units"])
    assert not any(u["lutmul"] for u in plan(units(8), tight)["units"])  # 8-bit weights: DSPs only
    u8 = Unit("c", "conv", 64, 64, cin=64, segments=[(64, 1)], wbits=8)
    assert can_pack(u8, 1, 2, 25)  # 8-bit weights, one product per pair: 25 bits, DSP48E1's port
    assert can_pack(u8, 2, 2, 27) and not can_pack(u8, 2, 2, 25)  # two summed: one guard bit more
    assert not can_pack(u8, 8, 2, 27)  # PI = 8 packed sums need more guard bits than the port has
    assert not can_pack(units(4)[1], 1, 3, 25)  # PO must be even


def test_fps_target_takes_less_hardware_and_unreachable_says_best():
    bud = budget(get_part("xc7z020"))
    best = plan(units(), bud)
    slow = plan(units(), bud, max_cycles=best["cycles_per_frame"] * 4)
    assert slow["cycles_per_frame"] <= best["cycles_per_frame"] * 4
    share = lambda p: sum(p["estimate"][k] / p["budget"][k] for k in p["budget"])  # noqa: E731
    assert share(slow) < share(best)
    with pytest.raises(Unreachable) as e:
        plan(units(), bud, max_cycles=best["cycles_per_frame"] // 2)
    assert e.value.best["cycles_per_frame"] == best["cycles_per_frame"]


def test_cost_model_counts_dsps_exactly_and_memories_by_shape():
    u = units()[4]
    u.pi, u.po, u.pack = 4, 8, 2
    c = estimate(u)
    assert c["dsp"] == 16
    assert c["bram36"] > 0  # 144-bit x 320-step weight ROM and the 16-wide line buffer
    u.pi, u.po, u.pack = 1, 1, 1
    assert estimate(u)["lut"] < c["lut"]


def test_too_big_for_the_part_says_why():
    big = [Unit("c", "conv", 64, 64, cin=512, segments=[(1024, 3)], row_px=8, rows=4, wbits=8)]
    with pytest.raises(UserError) as e:
        plan(big, budget(get_part("xc7z010")))
    msg = str(e.value)
    assert "does not fit xc7z010" in msg and "weights take 37.75 Mbit" in msg and "BRAM36" in msg
