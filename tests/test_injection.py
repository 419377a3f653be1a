"""Generated-code safety: a QONNX model whose node, tensor and graph names are hostile builds fine,
its generated C++, SystemVerilog and Tcl compile/parse, none of the hostile text reaches a generated
file, and nothing outside the build folder changes (a canary file, the repository's git status)."""
import json
import subprocess

import onnx
import pytest

from conftest import ROOT, run_cli

pytestmark = pytest.mark.xdist_group("default_build")

HOSTILE = ['a"b\'c;d', "x\\y\\", "$(touch {canary})", "[exec touch {canary}]", "../../../etc/evil", "line\nbreak",
           "ünïcødé_名前", "`rm -rf /`", "}; system(\"touch {canary}\"); {", "endmodule module evil("]


def _rename(model: onnx.ModelProto, canary) -> onnx.ModelProto:
    """Every node, tensor (initializers included) and the graph get a hostile name."""
    g = model.graph
    names = {}

    def hostile(old: str) -> str:
        if old not in names:
            names[old] = HOSTILE[len(names) % len(HOSTILE)].replace("{canary}", str(canary)) + f"#{len(names)}"
        return names[old]

    for n in g.node:
        n.name = hostile("node:" + n.name)
        n.input[:] = [hostile(t) if t else t for t in n.input]
        n.output[:] = [hostile(t) for t in n.output]
    for coll in (g.initializer, g.input, g.output, g.value_info):
        for t in coll:
            t.name = hostile(t.name)
    g.name = HOSTILE[3].replace("{canary}", str(canary))
    return model


def test_hostile_names_never_reach_generated_files(default_build, tmp_path):
    out, _ = default_build
    canary = tmp_path / "canary.txt"
    canary.write_text("untouched\n")
    model = _rename(onnx.load(str(out / "model.onnx")), canary)
    evil = tmp_path / "m.onnx"
    onnx.save(model, str(evil))
    status = subprocess.run(["git", "status", "--porcelain"], cwd=ROOT, capture_output=True, text=True).stdout
    target = tmp_path / "b"
    proc = run_cli("build", "--model", evil, "--out", target, "--board", "pynq-z2", "--images", 4, "--json",
                   timeout=900)
    assert proc.returncode == 0, proc.stderr
    summary = json.loads(proc.stdout.strip().splitlines()[-1])
    assert summary["csim"]["exact"] is True  # the C++ compiled with g++ and ran
    # the RTL was linted by Verilator and the Tcl checked with tclsh inside the build; the outputs equal
    # the original model's build (the names changed, nothing else)
    assert json.loads((target / "rtl" / "rtl.json").read_text())["plan"] == \
        json.loads((out / "rtl" / "rtl.json").read_text())["plan"]
    needles = [str(canary), "名前", "ünïcødé", "etc/evil", "rm -rf /", "module evil", "a\"b'c", "x\\y\\", "line\nbreak"]
    for p in target.rglob("*"):
        if p.is_file() and p.suffix in (".cpp", ".h", ".sv", ".tcl", ".py", ".json", ".md", ".sh", ".txt", ".mem"):
            text = p.read_text(errors="replace")
            for n in needles:
                assert n not in text, f"{p.relative_to(target)} contains {n!r}"
        assert "evil" not in p.name and "\n" not in p.name
    assert canary.read_text() == "untouched\n" and sorted(x.name for x in tmp_path.iterdir()) == ["b", "canary.txt", "m.onnx"]
    assert subprocess.run(["git", "status", "--porcelain"], cwd=ROOT, capture_output=True, text=True).stdout == status
