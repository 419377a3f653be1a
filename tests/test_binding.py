"""Vitis's FIFO binding rules and the primitive costs in sqzfpga.hls.binding (pure arithmetic, < 1 s)."""
from __future__ import annotations

import pytest

from sqzfpga.hls import binding


def test_a_narrow_shallow_fifo_is_a_shift_register():
    s = binding.fifo(8, 16)
    assert (s.impl, s.resource, s.bram18, s.srl_luts) == ("srl", "srl", 0, 8)  # one SRLC32E per bit
    assert s.ff == 4 + 3  # control only: mOutPtr (clog2(16) + 1 bits) and two flags


def test_a_wide_deep_fifo_goes_to_bram_by_the_aspect_ratios():
    # 3135 words (one waits in the output register) x 512 bits: 512 x 36 blocks, 15 across, 7 down;
    # 1024 x 18 would need 29 x 4 = 116 and 2048 x 9 57 x 2 = 114
    s = binding.fifo(512, 3136)
    assert (s.impl, s.resource, s.bram18, s.luts) == ("memory", "bram", 105, 0)
    assert binding.bram18_blocks(512, 3135) == 105


@pytest.mark.parametrize("width, depth, resource", [
    (16, 64, "srl"), (16, 65, "lutram"),  # auto_srl_max_bits: 1024 bits stay an SRL, 1040 do not
    (1, 1024, "srl"), (1, 1025, "bram"),
    (1024, 2, "ff"), (342, 3, "lutram"),  # auto_srl_max_depth: depth 2 is an SRL at any width
    (64, 65, "lutram"), (64, 66, "bram"),  # memory FIFO: 64 RAM words in LUTRAM, 65 in BRAM
])
def test_default_binding_at_its_boundaries(width, depth, resource):
    s = binding.fifo(width, depth)
    assert s.resource == resource
    assert s.impl == ("srl" if resource in ("srl", "ff") else "memory")


def test_primitive_boundaries():
    assert binding.fifo(4, 2).resource == "ff" and binding.fifo(4, 3).resource == "srl"  # -shreg_min_size
    assert binding.fifo(1, 32).srl_luts == 1 and binding.fifo(1, 33).srl_luts == 2  # 32 stages per SRLC32E
    assert binding.fifo(1, 128, "srl").logic_luts == 0  # 4 SRLC32E in one SLICEM: F7/F8 muxes
    assert binding.fifo(1, 129, "srl").logic_luts == 1  # a fifth needs a LUT mux
    assert binding.fifo(6, 33, "lutram").lutram_luts == 4  # 32 words: one RAM32M (32 x 6)
    assert binding.fifo(6, 34, "lutram").lutram_luts == 8  # 33 words: two RAM64M (64 x 3)


def test_config_storage_limits_move_the_boundary():
    assert binding.fifo(342, 3).resource == "lutram"
    assert binding.fifo(342, 3, srl_max_depth=3).resource == "srl"
    assert binding.fifo(16, 64, srl_max_bits=512).impl == "memory"
    assert binding.fifo(64, 40, lutram_max_words=0).bram18 == 2  # every RAM FIFO in BRAM


def test_an_explicit_impl_overrides_the_default():
    assert binding.fifo(8, 16).resource == "srl"
    assert binding.fifo(8, 16, "bram").bram18 == 1
    assert binding.fifo(8, 16, "lutram").lutram_luts == 8  # 15 words x 8 bits: two RAM32M
    big = binding.fifo(512, 3136, "srl")
    assert (big.resource, big.bram18, big.srl_luts) == ("srl", 0, 512 * 98)
    assert binding.fifo(64, 40).resource == "lutram" and binding.fifo(64, 40, "bram").bram18 == 2


@pytest.mark.parametrize("call", [
    lambda: binding.fifo(8, 16, "uram"),
    lambda: binding.fifo(8, 16, "SRL"),
    lambda: binding.fifo(8, 16, "registers"),
    lambda: binding.memory(8, 16, "srl"),
    lambda: binding.memory(8, 16, "memory"),
    lambda: binding.fifo(0, 16),
    lambda: binding.fifo(8, 0),
    lambda: binding.memory(8, 2.5, "bram"),
])
def test_bad_arguments_raise(call):
    with pytest.raises(ValueError):
        call()


def test_memory_costs_by_primitive():
    assert binding.memory(36, 512, "bram").bram18 == 1
    assert binding.memory(36, 513, "bram").bram18 == 2
    assert binding.memory(8, 100, "registers").ff == 800
    rom = binding.memory(8, 100, "lutram", rom=True)  # ROM128X1: 2 LUTs per bit
    assert (rom.resource, rom.logic_luts, rom.lutram_luts) == ("lut", 16, 0)
    ram = binding.memory(8, 100, "lutram")  # 2 banks of RAM64M (3 bits each), a 2:1 mux per bit
    assert (ram.lutram_luts, ram.logic_luts) == (2 * 3 * 4, 8)


def test_total_adds_every_count():
    t = binding.total([binding.fifo(8, 16), binding.fifo(512, 3136), binding.fifo(4, 2)])
    assert (t.bram18, t.srl_luts, t.logic_luts) == (105, 8, 4)
    assert t.luts == 12 and t.ff == 7 + (512 + 4 * 12 + 4) + (8 + 4)
