"""Part and family facts in one place: every part has a family, each family-dependent choice reads it."""
from pathlib import Path

import pytest

from sqzfpga.deploy.boards import BOARDS
from sqzfpga.errors import UserError
from sqzfpga.parts import FAMILIES, PARTS, PS_KINDS, Family, get_family, get_part
from sqzfpga.rtl.plan import budget
from sqzfpga.rtl.synth import family as yosys_family

BLOCK_DESIGN = Path(__file__).resolve().parents[1] / "sqzfpga" / "templates" / "vivado" / "block_design.tcl.jinja"


def test_the_family_facts():
    z7, zu = get_family("zynq7"), get_family("zynqmp")
    assert (z7.dsp_port, z7.yosys, z7.ps) == (25, "xc7", "ps7")  # DSP48E1 (UG479), Zynq-7000 PS
    assert (zu.dsp_port, zu.yosys, zu.ps) == (27, "xcup", "zynqmp")  # DSP48E2 (UG579), Zynq UltraScale+ PS


def test_every_part_has_its_family_and_the_consumers_read_it():
    for part in PARTS.values():
        assert part.family is FAMILIES[part.family.name], part.name
        assert part.family.name == ("zynq7" if part.device.startswith("xc7") else "zynqmp"), part.name
        assert budget(part).dsp_port == part.family.dsp_port
        assert yosys_family(part) == part.family.yosys
    assert budget(get_part("xc7z020")).dsp_port == 25 and budget(get_part("xczu7ev")).dsp_port == 27


def test_every_board_takes_its_ps_from_the_family_and_every_ps_has_a_branch():
    for board in BOARDS.values():
        assert board.ps == get_part(board.part).family.ps, board.name
    assert {get_part(b.part).family.name for b in BOARDS.values()} == set(FAMILIES)  # test_deploy renders each
    template = BLOCK_DESIGN.read_text()
    branches = template[template.index("{% if ps == 'ps7' %}"):]
    assert "{% else %}" not in branches[:branches.index("{% endif %}")]  # no PS is the fallback
    for kind in PS_KINDS:
        assert f"ps == '{kind}' %}}" in template and f"'{kind}': " in template, kind


def test_an_unknown_family_or_ps_is_an_error():
    with pytest.raises(UserError, match="unknown FPGA family 'virtex7'; expected one of zynq7, zynqmp"):
        get_family("virtex7")
    with pytest.raises(ValueError, match="unknown PS kind 'psu'"):
        Family("versal", dsp_port=27, yosys="xcup", ps="psu")
