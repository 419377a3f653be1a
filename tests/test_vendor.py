"""The vendor flows as the vendors' tools run them, without the tools: recording stand-ins on PATH
(tests/vendor_standins.py: they check their command line, run hls4ml's build_prj.tcl itself and write
what the tools write) for Vitis HLS / Vivado HLS / Vivado, and the Tcl checker for the Vivado scripts
(one clock for three boards at two clocks, the slack check before write_bitstream, board parts looked
up, current automation keys, the .hwh found before anything is copied, ap_rst_n active-low, the ROM
files in the IP's file groups)."""
import contextlib
import io
import json
import os
import shutil
import subprocess
import sys
import time
from pathlib import Path

import pytest

from conftest import ROOT, assert_clean_error, run_cli, script_folder
from sqzfpga import vendor
from sqzfpga.cli import main
from sqzfpga.deploy import boards, package, scripts, tclcheck
from sqzfpga.hls import project

pytestmark = pytest.mark.xdist_group("vendor")  # one worker builds the module's small build once

SMALL = ROOT / "tests" / "fuzz_regressions" / "gap_narrow_numerator_small.onnx"  # builds in ~25 s
STANDINS = Path(__file__).with_name("vendor_standins.py")
HLS4ML_TEMPLATES = Path(__import__("hls4ml").__file__).parent / "templates"


def standin_env(tmp: Path, tools=("vitis-run", "vivado"), **extra) -> dict:
    """PATH with executables for `tools` that run the stand-ins (and record every call)."""
    bin_dir = tmp / "bin"
    bin_dir.mkdir(parents=True, exist_ok=True)
    for t in tools:
        exe = bin_dir / t
        exe.write_text(f'#!/bin/sh\nexec "{sys.executable}" "{STANDINS}" {t} "$@"\n')
        exe.chmod(0o755)
    return {**os.environ, "PATH": f"{bin_dir}{os.pathsep}{os.environ['PATH']}",
            "SQZFPGA_STANDIN_RECORD": str(tmp / "calls.jsonl"), **extra}


def recorded(tmp: Path) -> list[dict]:
    f = tmp / "calls.jsonl"
    return [json.loads(ln) for ln in f.read_text().splitlines()] if f.exists() else []


@pytest.fixture(scope="module")
def built(tmp_path_factory):
    """`build --board pynq-z2 --bitstream --clock-mhz 200` of a small model with vitis-run and vivado
    stand-ins on PATH."""
    tmp = tmp_path_factory.mktemp("vendor")
    out = tmp / "build"
    proc = run_cli("build", "--model", SMALL, "--part", "xc7z020", "--board", "pynq-z2", "--bitstream",
                   "--clock-mhz", 200, "--images", 2, "--out", out, "--json", env=standin_env(tmp), timeout=600)
    return tmp, out, proc


def test_build_runs_hls_and_vivado_as_the_tools_expect(built):
    """hls4ml's build_prj.tcl runs through `vitis-run --mode hls --tcl` with our build_opt.tcl: the IP
    is exported, the log kept; Vivado writes the bitstream at the build's clock."""
    tmp, out, proc = built
    assert proc.returncode == 0, proc.stderr
    calls = recorded(tmp)
    assert [(c["tool"], c["argv"], Path(c["cwd"]).name) for c in calls] == [
        ("vitis-run", ["--mode", "hls", "--tcl", "build_prj.tcl"], "hls"),
        ("vivado", ["-mode", "batch", "-source", "bitstream.tcl"], "vivado")]
    assert (out / "hls" / project.EXPORTED_IP).is_file()
    log = (out / "hls" / "logs" / "vitis-run.log").read_text()
    assert "EXPORT IP COMPLETED" in log and "C/RTL SIMULATION" not in log and "VALIDATION" not in log
    assert "CSim done with 0 errors" in log
    # the build's C simulation ran the project's testbench: its log, one line per image, exact values
    tb = out / "hls" / "tb_data"
    results = (out / "hls" / project.CSIM_RESULTS).read_text().splitlines()
    assert len(results) == len((tb / "inputs.dat").read_text().splitlines()) == 2
    assert [r.rstrip(" ") for r in results] == (tb / "expected.dat").read_text().splitlines()
    opts = (out / "hls" / "build_opt.tcl").read_text()
    assert "csim       1" in opts and "export     1" in opts and "validation 0" in opts
    assert "set clock_period 5.0\n" in (out / "hls" / "project.tcl").read_text()  # the HLS clock is the build's
    meta = json.loads((out / "deploy" / "accel.json").read_text())
    assert meta["clock_mhz"] == 200
    assert (out / "deploy" / "sqzfpga.bit").read_bytes() == b"stand-in bitstream"
    assert "sqzfpga: timing met at 200 MHz" in (out / "vivado" / "logs" / "vivado.log").read_text()
    summary = json.loads(proc.stdout.strip().splitlines()[-1])
    assert "ran with vitis-run" in summary["next"] and "Bitstream written" in summary["next"]
    assert summary["clock_mhz"] == 200 and json.loads((out / "report.json").read_text())["clock_mhz"] == 200
    assert "clock requested 200.0 MHz" in (out / "report.md").read_text()


def test_old_invocation_exports_nothing(built, tmp_path):
    """The invocation the build used before (`vitis_hls -f build_prj.tcl -tclargs csim=1 synth=1
    export=1`) on hls4ml's own build_opt.tcl: build_prj.tcl ignores the arguments, runs cosimulation and
    validation (which pass: our testbench writes both result logs, as hls4ml's does) and never exports;
    the new options on the same folder export."""
    _, out, _ = built
    prj = tmp_path / "hls"
    shutil.copytree(out / "hls", prj, ignore=shutil.ignore_patterns("sqznet_prj", "logs"))
    shutil.copy(HLS4ML_TEMPLATES / "vitis" / "build_opt.tcl", prj / "build_opt.tcl")  # what hls4ml's writer leaves
    env = standin_env(tmp_path, ("vitis_hls", "vitis-run"))
    old = subprocess.run(["vitis_hls", "-f", "build_prj.tcl", "-tclargs", "csim=1", "synth=1", "export=1"], cwd=prj,
                         env=env, capture_output=True, text=True, timeout=120)
    assert old.returncode == 0 and "C/RTL SIMULATION" in old.stdout, old.stdout + old.stderr
    assert "INFO: Test PASSED" in old.stdout and "EXPORT IP" not in old.stdout
    assert not (prj / project.EXPORTED_IP).exists()
    argv = project.write_build_options(prj, "Vitis")
    new = subprocess.run(argv, cwd=prj, env=env, capture_output=True, text=True, timeout=120)
    assert new.returncode == 0, new.stdout + new.stderr
    assert (prj / project.EXPORTED_IP).is_file()
    # the stand-in refuses what vitis-run refuses: no --mode, or the old vitis_hls arguments
    bad = subprocess.run(["vitis-run", "--tcl", "build_prj.tcl"], cwd=prj, env=env, capture_output=True, text=True)
    assert bad.returncode == 1 and "--mode" in bad.stdout


def test_vivado_backend_options_as_hls4ml_passes_them(built, tmp_path):
    """The Vivado backend's build_prj.tcl takes key=value arguments (hls4ml's VivadoBackend.build):
    `vivado_hls -f build_prj.tcl "reset=1 csim=1 ..."` exports; without them its defaults do not."""
    _, out, _ = built
    prj = tmp_path / "hls"
    shutil.copytree(out / "hls", prj, ignore=shutil.ignore_patterns("sqznet_prj", "logs", "build_opt.tcl"))
    shutil.copy(HLS4ML_TEMPLATES / "vivado" / "build_prj.tcl", prj / "build_prj.tcl")
    env = standin_env(tmp_path, ("vivado_hls",))
    argv = project.write_build_options(prj, "Vivado")
    assert argv[:3] == ["vivado_hls", "-f", "build_prj.tcl"] and "export=1" in argv[3] and "validation=0" in argv[3]
    assert not (prj / "build_opt.tcl").exists()
    plain = subprocess.run(argv[:3], cwd=prj, env=env, capture_output=True, text=True, timeout=120)
    assert "C/RTL SIMULATION" in plain.stdout and not (prj / project.EXPORTED_IP).exists()
    r = subprocess.run(argv, cwd=prj, env=env, capture_output=True, text=True, timeout=120)
    assert r.returncode == 0 and (prj / project.EXPORTED_IP).is_file(), r.stdout + r.stderr


@pytest.mark.parametrize("tool", ["vitis-run", "vitis_hls"])
def test_csim_needs_the_testbench_results(built, tmp_path, tool):
    """build_prj.tcl's C simulation with our build_opt.tcl, on a copy of the built project: exports with
    the testbench's log; without it, or with a line missing, csim fails (exit 1) and nothing is exported."""
    _, out, _ = built
    env = standin_env(tmp_path, (tool,))
    argv = (["vitis-run", "--mode", "hls", "--tcl", "build_prj.tcl"] if tool == "vitis-run"
            else ["vitis_hls", "-f", "build_prj.tcl"])
    results = (out / "hls" / project.CSIM_RESULTS).read_text()
    cases = {"as built": results, "no log": None, "a line missing": results.split("\n", 1)[1]}
    for case, log in cases.items():
        prj = tmp_path / case / "hls"
        shutil.copytree(out / "hls", prj, ignore=shutil.ignore_patterns("sqznet_prj", "logs", "csim_results.log"))
        if log is not None:
            (prj / project.CSIM_RESULTS).write_text(log)
        r = subprocess.run(argv, cwd=prj, env=env, capture_output=True, text=True, timeout=120)
        if case == "as built":
            assert r.returncode == 0 and "CSim done with 0 errors" in r.stdout, r.stdout + r.stderr
            assert (prj / project.EXPORTED_IP).is_file()
            continue
        why = ("no tb_data/csim_results.log" if log is None
               else "tb_data/csim_results.log has 1 lines for the 2 images of tb_data/inputs.dat")
        assert r.returncode == 1 and f"CSim failed with errors: {why}" in r.stdout, r.stdout + r.stderr
        assert "C/RTL SYNTHESIS" not in r.stdout and not (prj / project.EXPORTED_IP).exists()
    assert [(c["tool"], c["argv"]) for c in recorded(tmp_path)] == [(tool, argv[1:])] * 3


def test_failing_hls_tool_is_one_error_line(tmp_path):
    """vitis-run exits 1 (a synthesis error): one error line naming the tool, the exit status, the
    tool's own reason and the log, which exists (the partial build is kept for it)."""
    out = tmp_path / "build"
    proc = run_cli("build", "--model", SMALL, "--part", "xc7z020", "--images", 2, "--out", out,
                   env=standin_env(tmp_path, ("vitis-run",), SQZFPGA_STANDIN_FAIL="1"), timeout=600)
    line = assert_clean_error(proc, "vitis-run failed (exit 1)", "stand-in synthesis failure", "vitis-run.log",
                              "partial build is kept")
    log = Path(line.split("; see ")[1].split(" (the partial")[0])
    assert log.is_file() and "stand-in synthesis failure" in log.read_text()
    assert not out.exists()  # nothing imitates a finished build


def test_vivado_timing_failure_is_one_error_line(built, tmp_path, monkeypatch):
    """Vivado stops at a negative slack: one error naming the worst path and --clock-mhz; no bitstream."""
    _, out, _ = built
    build = tmp_path / "build"
    shutil.copytree(out, build, symlinks=True)
    for f in ("sqzfpga.bit", "sqzfpga.hwh"):
        (build / "deploy" / f).unlink()
    meta = json.loads((build / "deploy" / "accel.json").read_text())
    env = standin_env(tmp_path, ("vivado",), SQZFPGA_STANDIN_SLACK="-0.734")
    for k in ("PATH", "SQZFPGA_STANDIN_RECORD", "SQZFPGA_STANDIN_SLACK"):
        monkeypatch.setenv(k, env[k])
    with pytest.raises(vendor.ToolFailed) as e:
        package.run_vivado(build, meta, log=lambda *_: None)
    msg = str(e.value)
    assert "vivado failed (exit 1): sqzfpga: timing not met at 200 MHz: worst setup slack -0.734 ns on" in msg
    assert "--clock-mhz" in msg and str(build / "vivado" / "logs" / "vivado.log") in msg and "\n" not in msg
    assert not (build / "deploy" / "sqzfpga.bit").exists()


def test_tool_time_limit_stops_the_whole_process_group(tmp_path):
    """A tool that hangs (and has started a child) is stopped at its time limit, child included."""
    tool = tmp_path / "hangs"
    tool.write_text(f"#!/bin/sh\nsleep 300 &\necho $! > {tmp_path / 'child'}\necho working\nwait\n")
    tool.chmod(0o755)
    t0 = time.time()
    with pytest.raises(vendor.ToolFailed, match=r"ran past its time limit \(1 s\).*logs/hangs.log"):
        vendor.run([str(tool)], tmp_path, timeout=1, log=lambda *_: None)
    assert time.time() - t0 < 15
    child = int((tmp_path / "child").read_text())
    time.sleep(0.2)
    assert not Path(f"/proc/{child}").exists() or "Z" in Path(f"/proc/{child}/stat").read_text().split()[2]
    assert (tmp_path / "logs" / "hangs.log").read_text() == "working\n"


def test_hls_command_prefers_vitis_run(tmp_path, monkeypatch):
    """vitis-run where it exists (Vitis 2023.2+), vitis_hls -f where only that is installed."""
    env = standin_env(tmp_path, ("vitis_hls",))
    monkeypatch.setenv("PATH", env["PATH"])
    assert vendor.hls_argv("export_ip.tcl") == ["vitis_hls", "-f", "export_ip.tcl"]
    standin_env(tmp_path, ("vitis-run",))
    assert vendor.hls_argv("export_ip.tcl") == ["vitis-run", "--mode", "hls", "--tcl", "export_ip.tcl"]


# ---- the Vivado scripts under the Tcl checker ----------------------------------------------------------
def _scripts(built, tmp_path, board, clock, accel="rtl"):
    _, out, _ = built
    manifest = json.loads((out / "rtl" / "rtl.json").read_text())
    d = script_folder(out, tmp_path / f"{board}-{clock}-{accel}")
    info = scripts.write(d, boards.get_board(board), accel, manifest, clock)
    return d, info


def _index(calls, pred) -> int:
    return next(i for i, c in enumerate(calls) if pred(c))


@pytest.mark.parametrize("board", ["pynq-z2", "zcu104", "zcu102"])
@pytest.mark.parametrize("clock", [100, 200])
def test_one_clock_and_slack_check(built, tmp_path, board, clock):
    d, _ = _scripts(built, tmp_path, board, clock)
    calls = tclcheck.check(d / "vivado" / "bitstream.tcl")
    key = ("CONFIG.PCW_FPGA0_PERIPHERAL_FREQMHZ" if boards.get_board(board).ps == "ps7"
           else "CONFIG.PSU__CRL_APB__PL0_REF_CTRL__FREQMHZ")
    clocks = [c[2].split() for c in calls if c[:2] == ["set_property", "-dict"] and key in c[2]]
    assert len(clocks) == 1 and clocks[0][clocks[0].index(key) + 1] == str(clock)
    period = [c for c in tclcheck.check(d / "hls" / "export_ip.tcl") if c[0] == "create_clock"]
    assert period == [["create_clock", "-period", str(round(1000 / clock, 3)), "-name", "default"]]
    slack = _index(calls, lambda c: c[:2] == ["get_property", "SLACK"])
    assert _index(calls, lambda c: c[:2] == ["open_run", "impl_1"]) < slack
    assert slack < _index(calls, lambda c: c[0] == "write_bitstream") < _index(calls, lambda c: c[:2] == ["file", "copy"])
    assert not any(c[0] == "launch_runs" and "write_bitstream" in c for c in calls)  # no bitstream before the check
    # a negative slack stops before write_bitstream, naming the path and what to change
    with pytest.raises(tclcheck.TclCheckError) as e:
        tclcheck.check(d / "vivado" / "bitstream.tcl", {"get_property SLACK": "-0.5"})
    assert (f"timing not met at {clock} MHz: worst setup slack -0.5 ns on accel/u_l1/acc_reg[3]/C -> "
            f"accel/u_l2/sum_reg[7]/D; rebuild with a lower --clock-mhz (this path allows about "
            f"{int(1000 / (1000 / clock + 0.5))})") in str(e.value)
    assert not any(c[0] == "write_bitstream" or c[:2] == ["file", "copy"] for c in e.value.calls)


def test_clock_is_validated():
    """The clock reaches Tcl as a number: anything else is one error line before any work."""
    for bad in ("0", "-5", "nan", "inf", "2000"):
        err = io.StringIO()
        with contextlib.redirect_stderr(err), contextlib.redirect_stdout(io.StringIO()):
            rc = main(["build", "--part", "xc7z020", "--board", "pynq-z2", "--clock-mhz", bad, "--out", "/nonexistent/x"])
        lines = [ln for ln in err.getvalue().splitlines() if ln.startswith("error:")]
        assert rc == 2 and len(lines) == 1 and "--clock-mhz" in lines[0], err.getvalue()
    with pytest.raises(ValueError):
        scripts.mhz(float("nan"))
    assert scripts.mhz(142.857142) == "142.857" and scripts.mhz(100.0) == "100"


@pytest.mark.parametrize("board", ["pynq-z1", "pynq-z2", "zcu104"])
def test_board_parts_looked_up_with_install_hint(built, tmp_path, board):
    d, _ = _scripts(built, tmp_path, board, 100)
    b = boards.get_board(board)
    calls = tclcheck.check(d / "vivado" / "block_design.tcl")
    found = [c for c in calls if c[0] == "get_board_parts"]
    assert found == [["get_board_parts", "-latest_file_version", f"*:{b.board_id}:part0:*"]]
    assert ["set_property", "board_part", f"vendor.example:{b.board_id}:part0:1.0", ""] in calls
    with pytest.raises(tclcheck.TclCheckError) as e:
        tclcheck.check(d / "vivado" / "block_design.tcl", {"get_board_parts": ""})
    msg = str(e.value).splitlines()[0]
    assert f"board files for the {board} ({b.board_id}) are not installed" in msg and "SQZFPGA_BOARD_FILES" in msg
    assert ("Digilent/vivado-boards" if board == "pynq-z1" else f"xhub::install [xhub::get_xitems *{b.board_id}*]") in msg
    assert not any(c[0] in ("create_bd_design", "set_property") for c in e.value.calls)
    # board files from a folder of the user's: added to the board repository paths before the lookup
    calls = tclcheck.check(d / "vivado" / "block_design.tcl", {"::env(SQZFPGA_BOARD_FILES)": "/opt/boards"})
    i = calls.index(["set_param", "board.repoPaths", "/opt/boards"])
    assert i < calls.index(found[0]) and ["set_property", "BOARD_PART_REPO_PATHS", "/opt/boards", ""] in calls


def test_automation_keys_hwh_reset_and_roms(built, tmp_path):
    _, out, _ = built
    d, _ = _scripts(built, tmp_path, "pynq-z2", 100)
    bd = tclcheck.check(d / "vivado" / "block_design.tcl")
    axi = [c[c.index("-config") + 1] for c in bd if c[:3] == ["apply_bd_automation", "-rule", "xilinx.com:bd_rule:axi4"]]
    assert len(axi) == 3
    for cfg in axi:
        words = cfg.split()
        assert all(f"{k} /ps/FCLK_CLK0" in cfg for k in ("Clk_master", "Clk_slave", "Clk_xbar")) and "Clk" not in words
        assert "intc_ip" in words and "Master" in words and "Slave" in words
    assert "intc_ip {New AXI Interconnect}" in axi[0] and "intc_ip Auto" in axi[2]
    # the .hwh: .gen, then .srcs, before anything is copied; neither: an error, nothing copied
    bit = d / "vivado" / "bitstream.tcl"
    calls = tclcheck.check(bit)
    looked = [c[2] for c in calls if c[:2] == ["file", "exists"]]
    assert looked == [str(d / "vivado/project/sqzfpga.gen/sources_1/bd/sqzfpga_bd/hw_handoff/sqzfpga_bd.hwh")]
    copies = [c for c in calls if c[:2] == ["file", "copy"]]
    assert copies[1][3] == looked[0] and copies[1][4] == str(d / "deploy" / "sqzfpga.hwh")
    with pytest.raises(tclcheck.TclCheckError, match="no hardware handoff sqzfpga_bd.hwh") as e:
        tclcheck.check(bit, {"file exists": "0"})
    assert [c[2].split("/")[-6] for c in e.value.calls if c[:2] == ["file", "exists"]] == ["sqzfpga.gen", "sqzfpga.srcs"]
    assert not any(c[0] == "write_bitstream" or c[:2] == ["file", "copy"] for c in e.value.calls)
    # ap_rst_n declared active-low on its bus interface
    pk = tclcheck.check(d / "vivado" / "package_ip.tcl")
    i = pk.index(["ipx::get_bus_interfaces", "ap_rst_n", "-of_objects", ""])
    assert pk[i + 1:i + 4] == [["ipx::get_bus_parameters", "POLARITY", "-of_objects", "bus_interface_1"],
                               ["ipx::add_bus_parameter", "POLARITY", "bus_interface_1"],
                               ["set_property", "value", "ACTIVE_LOW", "bus_parameter_1"]]
    # every ROM file the RTL reads with $readmemh goes into both file groups as a memory file
    mems = sorted(p.name for p in (out / "rtl").glob("*.mem"))
    assert mems
    for group in ("xilinx_anylanguagesynthesis", "xilinx_anylanguagebehavioralsimulation"):
        start = pk.index(["ipx::get_file_groups", group, "-of_objects", ""])
        added = [c[1] for c in pk[start:start + 1 + 3 * len(mems)] if c[0] == "ipx::add_file"]
        assert added == [f"src/{m}" for m in mems]
    assert pk.count(["set_property", "type", "mem", "ip_file_1"]) == 2 * len(mems)
    readmem = {ln.split('"')[1] for f in (out / "rtl").glob("*.sv") for ln in f.read_text().splitlines()
               if '.mem"' in ln}
    assert readmem <= set(mems)  # the bare names the generated RTL passes to $readmemh


def test_export_ip_flow_vitis_run_first(built, tmp_path):
    d, info = _scripts(built, tmp_path, "pynq-z2", 100, accel="hls")
    text = (d / "hls" / "export_ip.tcl").read_text()
    assert text.index("vitis-run --mode hls --tcl export_ip.tcl") < text.index("vitis_hls -f export_ip.tcl")
    assert info["tools"][0] == ["hls", vendor.hls_argv("export_ip.tcl")]


@pytest.mark.parametrize("hls_tool", ["vitis-run", "vitis_hls"])
def test_hls_accelerator_flow(built, tmp_path, monkeypatch, hls_tool):
    """--accel hls: export_ip.tcl through the Vitis HLS stand-in (vitis-run, or vitis_hls where only
    that is installed) exports the IP the block design instantiates; then Vivado writes the bitstream."""
    _, out, _ = built
    build = tmp_path / "build"
    shutil.copytree(out, build, symlinks=True, ignore=shutil.ignore_patterns("sqzfpga.bit", "sqzfpga.hwh"))
    env = standin_env(tmp_path, (hls_tool, "vivado"))
    for k in ("PATH", "SQZFPGA_STANDIN_RECORD"):
        monkeypatch.setenv(k, env[k])
    manifest = json.loads((build / "rtl" / "rtl.json").read_text())
    info = scripts.write(build, boards.get_board("pynq-z2"), "hls", manifest, 200)
    assert info["tools"][0] == ["hls", vendor.hls_argv("export_ip.tcl")] and info["tools"][0][1][0] == hls_tool
    package.run_vivado(build, {**json.loads((build / "deploy" / "accel.json").read_text()), **info},
                       log=lambda *_: None)
    xml = (build / "hls" / scripts.HLS_IP).read_text()
    vendor_, library, name, version = info["vlnv"].split(":")
    assert [f"<spirit:{k}>{v}</spirit:{k}>" in xml for k, v in
            (("vendor", vendor_), ("library", library), ("name", name), ("version", version))] == [True] * 4
    bd = tclcheck.check(build / "vivado" / "block_design.tcl")
    assert ["set_property", "ip_repo_paths", str(build / "hls" / scripts.HLS_IP_PROJECT / "solution1/impl/ip"),
            ""] in bd
    assert (build / "deploy" / "sqzfpga.bit").is_file()
    assert [c["tool"] for c in recorded(tmp_path)] == [hls_tool, "vivado"]


def test_tool_without_its_output_is_an_error(tmp_path):
    """Exit 0 without the file the flow reads next (an export that wrote nothing) is a failure too."""
    tool = tmp_path / "quiet"
    tool.write_text("#!/bin/sh\necho 'ERROR: [IMPL 213-28] Failed to generate IP.'\nexit 0\n")
    tool.chmod(0o755)
    (tmp_path / "vivado").mkdir()
    with pytest.raises(vendor.ToolFailed, match=rf"quiet exited 0 but did not write {tmp_path}/deploy/x.bit: ERROR: "
                                                r"\[IMPL 213-28\] Failed to generate IP.; see .*/vivado/logs/quiet.log"):
        vendor.run([str(tool)], tmp_path / "vivado", 10, produces=("../deploy/x.bit",), log=lambda *_: None)
