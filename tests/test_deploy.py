"""Deployment: the PYNQ-Z2 package of the default build, the generated Vivado/Vitis Tcl (checked with
tclsh, names compared with what the generators wrote), `deploy` over a real OpenSSH server, bad input.
The driver's packing against the RTL simulation is test_default_model's rtlsim test (its testbench
feeds the driver's input buffer and unpacks the output buffer with the driver)."""
import json
import re
import socket
import tarfile
import time
from pathlib import Path

import numpy as np
import pytest

from conftest import assert_clean_error, run_cli, script_folder
from sqzfpga.deploy import boards, scripts, tclcheck
from sqzfpga.driver.layout import Layout, pack, unpack, words
from sqzfpga.hls.project import AXIS_TOP
from sshd import ssh_server

pytestmark = pytest.mark.xdist_group("default_build")


def test_layout_pack_unpack_round_trip():
    lay = Layout(channels=3, height=2, width=2, out_words=4, out_bits=16, out_frac=6, out_signed=True)
    imgs = np.arange(24, dtype=np.uint8).reshape(2, 3, 2, 2)
    buf = pack(imgs, lay)
    assert buf.tolist()[:6] == [0, 4, 8, 1, 5, 9]  # raster order, channels last
    raw = np.array([[-1, 2, -32768, 32767], [0, -5, 7, 1]])
    out = words(raw).tobytes()
    assert out[:4] == b"\xff\xff\xff\xff" and len(out) == 2 * lay.out_bytes
    np.testing.assert_array_equal(unpack(out, 2, lay), raw)
    with pytest.raises(ValueError, match="expected uint8 N x 3 x 2 x 2"):
        pack(imgs.astype(np.int16), lay)


def test_build_with_board_writes_deployment_folder(default_build):
    """Acceptance: without Vivado, `build --board pynq-z2` writes the scripts and the deployment folder,
    and its last lines say which step needs Vivado and the command to run."""
    out, proc = default_build
    summary = json.loads(proc.stdout.strip().splitlines()[-1])
    assert summary["board"] == "pynq-z2" and summary["deploy"] == str(out / "deploy")
    dep = out / "deploy"
    meta = json.loads((dep / "accel.json").read_text())
    assert meta["board"] == "pynq-z2" and meta["device"] == "xc7z020clg400-1" and meta["accel"] == "rtl"
    for f in ("validate.py", "samples.npz", "sqzfpga_driver/driver.py", "sqzfpga_driver/layout.py",
              f"{meta['standin']}/recipe.json", ".sqzfpga-deploy",
              "../vivado/package_ip.tcl", "../vivado/block_design.tcl", "../vivado/bitstream.tcl",
              "../hls/export_ip.tcl"):
        assert (dep / f).is_file(), f
    s = np.load(dep / "samples.npz")
    assert len(s["images"]) == len(s["expected"]) == len(s["labels"]) >= 200
    with tarfile.open(out / "deploy.tar.gz") as tar:
        names = set(tar.getnames())
    assert {"deploy/accel.json", "deploy/validate.py", f"deploy/{meta['standin']}/recipe.json",
            "deploy/.sqzfpga-deploy"} <= names
    last = "\n".join(proc.stderr.strip().splitlines()[-2:])
    assert "bitstream step needs Vivado" in last and f"cd {out}/vivado && vivado -mode batch -source bitstream.tcl" in last


def _calls(calls, cmd):
    return [c[1:] for c in calls if c[0] == cmd]


def _sv_ports(sv: str) -> set[str]:
    start = sv.index("module ")
    header = sv[start:sv.index(");", start)]
    return set(re.findall(r"(\w+),?\s*$", header, flags=re.M)) - {"module"}


@pytest.mark.parametrize("accel", ["rtl", "hls"])
def test_tcl_parses_and_names_match_generators(default_build, tmp_path, accel):
    """Every board's scripts run through tclsh with Vivado stubbed; the files, top, IP, ports and
    output names inside them are the ones the RTL/HLS generators and the driver use."""
    out, _ = default_build
    manifest = json.loads((out / "rtl" / "rtl.json").read_text())
    script_folder(out, tmp_path)
    sv = (out / "rtl" / f"{manifest['top']}.sv").read_text()
    ports = _sv_ports(sv)
    assert {"ap_clk", "ap_rst_n", "s_axis_tdata", "s_axis_tvalid", "s_axis_tready", "m_axis_tdata",
            "m_axis_tvalid", "m_axis_tready", "m_axis_tlast"} <= ports
    cpp = (out / "hls" / "firmware" / f"{AXIS_TOP}.cpp").read_text()
    assert f"void {AXIS_TOP}(hls::stream<sqz_in_beat> &s_axis, hls::stream<sqz_out_beat> &m_axis)" in cpp
    for name, board in boards.BOARDS.items():
        info = scripts.write(tmp_path, board, accel, manifest, 100)
        for f in list(tmp_path.joinpath("vivado").glob("*.tcl")):
            if f.name not in {Path(s).name for s in info["scripts"]}:
                f.unlink()
        calls = {s: tclcheck.check(tmp_path / s) for s in info["scripts"]}
        vendor, library, ip_name, version = info["vlnv"].split(":")
        bd = calls["vivado/block_design.tcl"]
        assert ["-type", "ip", "-vlnv", info["vlnv"], "accel"] in _calls(bd, "create_bd_cell")
        assert ["accel/s_axis"] in _calls(bd, "get_bd_intf_pins") and ["accel/m_axis"] in _calls(bd, "get_bd_intf_pins")
        assert ["accel/ap_clk"] in _calls(bd, "get_bd_pins")
        assert ["-latest_file_version", f"*:{board.board_id}:part0:*"] in _calls(bd, "get_board_parts")
        ps = "processing_system7" if board.ps == "ps7" else "zynq_ultra_ps_e"
        assert any(ps in c[-2] for c in _calls(bd, "create_bd_cell")), name
        assert [c[2] for c in _calls(bd, "create_project")] == ["-part"] and \
            [c[3] for c in _calls(bd, "create_project")] == [info["device"]]
        bit = calls["vivado/bitstream.tcl"]
        copies = [c[-1] for c in _calls(bit, "file") if c[0] == "copy"]
        assert copies == [str(tmp_path / "deploy" / "sqzfpga.bit"), str(tmp_path / "deploy" / "sqzfpga.hwh")]
        hls = calls["hls/export_ip.tcl"]
        assert _calls(hls, "set_top") == [[AXIS_TOP]]
        for (f, *_rest) in _calls(hls, "add_files"):
            assert (out / "hls" / f).is_file(), f
        if accel == "rtl":
            pk = calls["vivado/package_ip.tcl"]
            files = _calls(pk, "add_files")[0][1].split()
            want = manifest["sources"] + sorted(p.name for p in (out / "rtl").glob("*.mem"))
            assert files == [str(tmp_path / "rtl" / s) for s in want] and all(Path(f).is_file() for f in files)
            assert ["top", manifest["top"], ""] in _calls(pk, "set_property")
            assert ["name", ip_name, ""] in _calls(pk, "set_property") and ip_name == manifest["top"]
            pp = _calls(pk, "ipx::package_project")[0]
            assert pp[pp.index("-vendor") + 1] == vendor and pp[pp.index("-library") + 1] == library
            busifs = [c[c.index("-busif") + 1] for c in _calls(pk, "ipx::associate_bus_interfaces") if "-busif" in c]
            assert all(f"{b}_tdata" in ports for b in busifs) and len(busifs) == 2
            assert ["source", str(tmp_path / "vivado" / "package_ip.tcl")] in [c[:2] for c in bit]
        else:
            ex = _calls(hls, "export_design")[0]
            assert ex[ex.index("-ipname") + 1] == ip_name == AXIS_TOP and ex[ex.index("-vendor") + 1] == vendor
            assert "package_ip.tcl" not in " ".join(" ".join(c) for c in bit)


def test_tcl_check_catches_errors(tmp_path):
    """The checker fails on a typo'd Vivado command and on unbalanced braces (so a pass means something)."""
    (tmp_path / "typo.tcl").write_text("create_project p . -part xc7z020clg400-1\nconect_bd_net a b\n")
    with pytest.raises(RuntimeError, match="conect_bd_net"):
        tclcheck.check(tmp_path / "typo.tcl")
    (tmp_path / "brace.tcl").write_text("if {1} {\n  puts x\n")
    with pytest.raises(RuntimeError, match="unbalanced"):
        tclcheck.check(tmp_path / "brace.tcl")


def test_deploy_over_ssh_end_to_end(default_build, tmp_path):
    """Acceptance: `deploy` copies the package to a real OpenSSH server on 127.0.0.1 (throw-away user,
    key and home) and runs validate.py there on the C-simulation stand-in, compiled there from the shipped
    sources; its result comes back. A re-deploy replaces the package (keeping the compiled stand-in)."""
    out, _ = default_build
    with ssh_server(tmp_path / "ssh") as (cfg, host, home):
        proc = run_cli("deploy", "--build", out, "--host", host, "--ssh-config", cfg, "--csim", "--images", 6,
                       "--json", timeout=600)
        assert proc.returncode == 0, proc.stderr
        res = json.loads(proc.stdout.strip().splitlines()[-1])
        remote = sorted(p.name for p in home.iterdir())
        remote_files = sorted(p.name for p in (home / "sqzfpga-deploy").iterdir())
        marker = json.loads((home / "sqzfpga-deploy" / ".sqzfpga-deploy").read_text())
        (home / "sqzfpga-deploy" / "accel.json").write_text("{}")  # changed files of ours are replaced
        again = run_cli("deploy", "--build", out, "--host", host, "--ssh-config", cfg, "--csim", "--images", 2,
                        "--dest", "~/sqzfpga-deploy/", "--json", timeout=300)
        assert again.returncode == 0, again.stderr
        remote_again = sorted(p.name for p in home.iterdir())
        accel_again = (home / "sqzfpga-deploy" / "accel.json").read_text()
        # a copy that cannot land (a folder the user may not write): an error, nothing left behind
        bad = run_cli("deploy", "--build", out, "--host", host, "--ssh-config", cfg, "--csim", "--dest",
                      "/sqzfpga-nope", timeout=120)
        assert not list(Path("/").glob("sqzfpga-nope*"))
    assert res["host"] == host and res["backend"] == "csim" and res["board"] == "pynq-z2"
    assert res["images"] == 6 and res["exact"] is True and res["mismatching_values"] == 0
    s = np.load(out / "deploy" / "samples.npz")
    assert res["accuracy"] == round(float(np.mean(s["expected"][:6].argmax(1) == s["labels"][:6])), 4)
    assert res["fps"] > 0 and f"[{host}] 6 images on the csim accelerator" in proc.stderr
    assert f"[{host}] compiling the C-simulation stand-in on this machine" in proc.stderr
    assert remote == remote_again == [".ssh", "sqzfpga-deploy"]  # no .partial or .old left
    assert {"accel.json", "validate.py", "samples.npz", "sqzfpga_driver", "csim", ".sqzfpga-deploy"} <= \
        set(remote_files)
    assert marker["sqzfpga_deploy"] == 1 and "accel.json" in marker["files"] and marker["build_id"]
    assert json.loads(again.stdout.strip().splitlines()[-1])["exact"] is True and "compiling" not in again.stderr
    assert accel_again == (out / "deploy" / "accel.json").read_text()
    assert_clean_error(bad, "copying to /sqzfpga-nope failed", "nothing was left")


def _deploy_to_port(out, cfg, host: str, port: int, timeout: int):
    """`deploy --csim` to an ssh alias for 127.0.0.1:port; (completed process, seconds taken)."""
    cfg.write_text(f"Host {host}\n  HostName 127.0.0.1\n  Port {port}\n  StrictHostKeyChecking no\n"
                   "  UserKnownHostsFile /dev/null\n")
    t0 = time.time()
    proc = run_cli("deploy", "--build", out, "--host", host, "--ssh-config", cfg, "--csim", "--timeout", timeout)
    return proc, time.time() - t0


def test_deploy_bad_input(default_build, tmp_path):
    out, _ = default_build
    before = sorted(p.name for p in out.iterdir())
    cfg = tmp_path / "ssh_config"
    with socket.socket() as s:  # a port nobody listens on
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    proc, took = _deploy_to_port(out, cfg, "deadboard", port, 3)
    assert_clean_error(proc, "host deadboard: cannot connect over SSH")
    assert took < 60
    with socket.socket() as s:  # a host that accepts the connection and then says nothing
        s.bind(("127.0.0.1", 0))
        s.listen()
        proc, took = _deploy_to_port(out, cfg, "mute", s.getsockname()[1], 2)
        assert_clean_error(proc, "host mute:")
        assert took < 30
    assert_clean_error(run_cli("deploy", "--build", out, "--host", "-oProxyCommand=touch /tmp/x", "--csim"),
                       "not a host name")
    assert_clean_error(run_cli("deploy", "--build", out, "--host", "b", "--dest", "../x", "--csim"), "--dest")
    assert sorted(p.name for p in out.iterdir()) == before  # nothing written locally


