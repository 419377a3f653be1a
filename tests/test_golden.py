"""The default build's generated files are byte-identical to the checked-in list (tests/golden/).

A change to a generated file (HLS sources or weights, SV, ROM files, Tcl, the deploy package) fails
here by name. When the change is deliberate, rebuild and update the list in the same commit:

    python -m sqzfpga build --part xc7z020 --board pynq-z2 --out DIR
    python tests/golden_hashes.py --update DIR
"""
import shutil

import pytest

import golden_hashes


@pytest.mark.xdist_group("default_build")
def test_default_build_matches_the_golden_list(default_build):
    out, _ = default_build
    diff = golden_hashes.compare(golden_hashes.read(), golden_hashes.hashes(out))
    assert not any(diff.values()), (
        f"generated files differ from {golden_hashes.GOLDEN.name}: {golden_hashes.describe(diff)}; if the change "
        f"is deliberate, run `python tests/golden_hashes.py --update BUILD_DIR` on a default build")


@pytest.mark.xdist_group("default_build")
def test_one_changed_byte_is_named(default_build, tmp_path):
    """A copy elsewhere hashes the same (the build folder's path is normalised); one byte changed in one
    .sv file, one ROM file removed and one file added are reported as exactly those files."""
    out, _ = default_build
    copy = tmp_path / "elsewhere"
    shutil.copytree(out, copy, symlinks=True)
    before = golden_hashes.hashes(out)
    assert golden_hashes.hashes(copy) == before
    sv = copy / "rtl" / "sqz_mac.sv"
    data = bytearray(sv.read_bytes())
    data[len(data) // 2] ^= 1
    sv.write_bytes(bytes(data))
    (copy / "rtl" / "l1_conv1_w.mem").unlink()
    (copy / "vivado" / "extra.tcl").write_text("puts hi\n")
    diff = golden_hashes.compare(before, golden_hashes.hashes(copy))
    assert diff == {"changed": ["rtl/sqz_mac.sv"], "missing": ["rtl/l1_conv1_w.mem"], "extra": ["vivado/extra.tcl"]}
    assert golden_hashes.describe(diff) == ("changed (1): rtl/sqz_mac.sv; missing (1): rtl/l1_conv1_w.mem; "
                                            "extra (1): vivado/extra.tcl")
