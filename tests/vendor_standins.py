"""Stand-ins for the vendor tools, installed by tests/test_vendor.py as executables on PATH:

    vitis-run --mode hls --tcl SCRIPT          Vitis 2023.2+ (what hls4ml's VitisBackend.build runs)
    vitis_hls -f SCRIPT [-tclargs ARGS...]     older Vitis HLS
    vivado_hls -f SCRIPT [ARGS...]             Vivado HLS (hls4ml's VivadoBackend.build)
    vivado -mode batch -source SCRIPT          Vivado

Modelled on hls4ml 1.3.0's backends and templates and UG1399/UG835, not on sqzfpga: a wrong command
line is refused as the tool refuses it (exit 1), and the HLS stand-ins run the given Tcl script
itself (hls4ml's build_prj.tcl, unchanged) in tclsh, with the HLS commands defined as the tool
behaves: csim_design fails unless the testbench's run left its log (tb_data/csim_results.log, one
line per image of the project's tb_data/inputs.dat: the stand-in does not compile the testbench, the
build's C simulation runs it), cosim_design's testbench writes the same values to
tb_data/rtl_cosim_results.log when it writes that log, export_design writes the IP under
<project>/<solution>/impl/ip/, `exit 1` from the script is the exit status. The Vivado stand-in runs
the script through sqzfpga's Tcl checker with its stubs answering (SQZFPGA_STANDIN_SLACK sets the
routed slack) and writes the files the script writes and copies.

Every call is appended to $SQZFPGA_STANDIN_RECORD as a JSON line {tool, argv, cwd}; with
SQZFPGA_STANDIN_FAIL=1 the HLS synthesis fails as a C++ error does.
"""
import json
import os
import subprocess
import sys
import tempfile
from pathlib import Path

HLS_COMMANDS = r'''
set ::done {}
proc need {what step} {
    if {[lsearch $::done $what] < 0} { error "ERROR: \[HLS 200-70\] $step needs $what first" }
}
proc open_project {args} {
    set ::prj [lindex $args end]
    file mkdir $::prj
    lappend ::done project
    puts "INFO: \[HLS 200-10\] Opening project '$::prj'"
}
proc set_top {name} { need project set_top; set ::top $name }
proc add_files {args} {
    set tb [expr {[lsearch $args -tb] >= 0}]
    set i [lsearch $args -cflags]
    if {$i >= 0} { set args [lreplace $args $i [expr {$i + 1}]] }
    set f [lindex [lsearch -all -inline -not $args -tb] 0]
    if {![file exists $f]} { error "ERROR: \[HLS 200-1\] cannot find file '$f'" }
    if {$tb} { lappend ::tb $f }
}
proc open_solution {args} {
    need project open_solution
    set i [lsearch $args -flow_target]
    if {$i >= 0} { set args [lreplace $args $i [expr {$i + 1}]] }
    set ::sol [file join $::prj [lindex [lsearch -all -inline -not -glob $args -*] 0]]
    file mkdir $::sol
    lappend ::done solution
}
foreach cmd {set_part set_clock_uncertainty config_compile config_schedule config_array_partition} {
    proc $cmd {args} { need solution [lindex [info level 0] 0] }
}
proc create_clock {args} {
    set p [lindex $args [expr {[lsearch $args -period] + 1}]]
    if {![string is double -strict $p] || $p <= 0} { error "ERROR: \[HLS 200-1\] bad clock period '$p'" }
    set ::period $p
}
# the testbench's result logs exist only if the testbench writes them (hls4ml's own does, and ours)
proc tb_writes {name} {
    foreach f $::tb {
        if {[file isfile $f] && [string first $name [read [set h [open $f]]][close $h]] >= 0} { return 1 }
    }
    return 0
}
proc lines {f} {
    if {![file isfile $f]} { return -1 }
    set h [open $f]; set n [llength [split [string trimright [read $h] \n] \n]]; close $h
    return $n
}
# csim_design compiles and runs the testbench, which writes tb_data/csim_results.log; the stand-in does
# not compile it (minutes of g++ on a whole network), it requires what that run leaves, as the build's
# C simulation runs the same testbench: one line per image of tb_data/inputs.dat
proc csim_design {args} {
    need solution csim_design
    puts "INFO: \[SIM 211-2\] *************** CSIM start ***************"
    set want [lines tb_data/inputs.dat]
    set got [lines tb_data/csim_results.log]
    if {![tb_writes csim_results.log]} {
        set why "the testbench does not write tb_data/csim_results.log"
    } elseif {$got < 0} {
        set why "no tb_data/csim_results.log (the testbench did not run)"
    } elseif {$want < 1 || $got != $want} {
        set why "tb_data/csim_results.log has $got lines for the $want images of tb_data/inputs.dat"
    }
    if {[info exists why]} {
        puts "ERROR: \[SIM 211-100\] CSim failed with errors: $why"
        error "ERROR: \[SIM 211-100\] CSim failed with errors."
    }
    puts "INFO: \[SIM 211-1\] CSim done with 0 errors."
}
proc csynth_design {} {
    need solution csynth_design
    if {[info exists ::env(SQZFPGA_STANDIN_FAIL)]} {
        puts "ERROR: \[HLS 207-812\] firmware/$::top.cpp:1:1: stand-in synthesis failure"
        error "ERROR: \[HLS 200-70\] Compilation errors found"
    }
    file mkdir [file join $::sol syn verilog]
    set h [open [file join $::sol syn verilog $::top.v] w]; puts $h "module ${::top} (); endmodule"; close $h
    lappend ::done synthesis
    puts "INFO: \[HLS 200-111\] Finished Command csynth_design"
}
proc cosim_design {args} {
    need synthesis cosim_design
    set dir [file join $::sol sim verilog]
    file mkdir $dir [file join $::sol sim report]
    set h [open [file join $dir $::top.tcl] w]; puts $h "log_wave -r /"; puts $h "quit"; close $h
    set h [open [file join $dir run_sim.tcl] w]
    set csim [file join [pwd] tb_data csim_results.log]
    if {[tb_writes rtl_cosim_results.log] && [file isfile $csim]} {  ;# the RTL computes what the C simulation did
        puts $h [list file copy -force $csim [file join [pwd] tb_data rtl_cosim_results.log]]
    }
    close $h
    set h [open [file join $::sol sim report ${::top}_cosim.rpt] w]; puts $h "Pass"; close $h
}
proc export_design {args} {
    need synthesis export_design
    foreach {key def} {-vendor xilinx.com -library hls -ipname {} -version 1.0} {
        set i [lsearch $args $key]
        set v($key) [expr {$i >= 0 ? [lindex $args [expr {$i + 1}]] : $def}]
    }
    if {$v(-ipname) eq ""} { set v(-ipname) $::top }
    set ip [file join $::sol impl ip]
    file mkdir $ip
    set h [open [file join $ip component.xml] w]
    puts $h "<spirit:component><spirit:vendor>$v(-vendor)</spirit:vendor><spirit:library>$v(-library)</spirit:library><spirit:name>$v(-ipname)</spirit:name><spirit:version>$v(-version)</spirit:version></spirit:component>"
    close $h
    puts "INFO: \[IMPL 213-8\] Exporting RTL as a Vivado IP."
}
'''


def fail(tool: str, msg: str) -> None:
    print(f"ERROR: {tool}: {msg}", flush=True)
    sys.exit(1)


def hls(tool: str, argv: list[str]) -> None:
    if tool == "vitis-run":
        if "--mode" not in argv or argv[argv.index("--mode") + 1:][:1] != ["hls"]:
            fail(tool, "the --mode option is required (only 'hls' is supported)")
        if "--tcl" not in argv or len(argv) <= argv.index("--tcl") + 1:
            fail(tool, "--tcl expects a Tcl script")
        known = {"--mode", "hls", "--tcl", argv[argv.index("--tcl") + 1]}
        if set(argv) - known:
            fail(tool, f"unrecognised option(s) {sorted(set(argv) - known)}")
        script, args = argv[argv.index("--tcl") + 1], []
    else:
        if argv[:1] != ["-f"] or len(argv) < 2:
            fail(tool, "usage: -f <tcl file> [arguments]")
        script, rest = argv[1], argv[2:]
        if tool == "vitis_hls":
            args = rest[1:] if rest[:1] == ["-tclargs"] else rest
        else:
            args = rest
    if not Path(script).is_file():
        fail(tool, f"cannot open {script} in {os.getcwd()}")
    with tempfile.NamedTemporaryFile("w", suffix=".tcl", delete=False) as f:  # a file: an error ends tclsh
        f.write(HLS_COMMANDS + f"set ::argv [list {' '.join('{' + a + '}' for a in args)}]\nset ::argc {len(args)}\n"
                "set ::tb {}\n"
                f"source {script}\n")
    try:
        r = subprocess.run(["tclsh", f.name], text=True, capture_output=True)
    finally:
        os.unlink(f.name)
    sys.stdout.write(r.stdout)
    if r.returncode != 0:
        sys.stdout.write(r.stderr)
    sys.exit(r.returncode)


def vivado(argv: list[str]) -> None:
    if argv[:2] != ["-mode", "batch"] or argv[2:3] != ["-source"] or len(argv) != 4:
        fail("vivado", "usage: vivado -mode batch -source <script>")
    from sqzfpga.deploy import tclcheck

    slack = os.environ.get("SQZFPGA_STANDIN_SLACK", "0.250")
    try:
        calls = tclcheck.check(Path(argv[3]).resolve(), {"get_property SLACK": slack})
    except tclcheck.TclCheckError as e:
        first = str(e).splitlines()[0]
        print(first[first.index("sqzfpga: "):] if "sqzfpga: " in first else first)  # Vivado prints the message
        print("INFO: [Common 17-206] Exiting Vivado")
        sys.exit(1)
    for c in calls:
        if c[0] == "write_bitstream":
            Path(c[-1]).parent.mkdir(parents=True, exist_ok=True)
            Path(c[-1]).write_bytes(b"stand-in bitstream")
        elif c[:2] == ["file", "copy"]:
            Path(c[-1]).write_bytes(Path(c[-2]).read_bytes() if Path(c[-2]).is_file() else b"stand-in hwh")
        elif c[0] == "puts":
            print(c[1])


def main() -> None:
    tool, argv = sys.argv[1], sys.argv[2:]
    record = os.environ.get("SQZFPGA_STANDIN_RECORD")
    if record:
        with open(record, "a") as f:
            f.write(json.dumps({"tool": tool, "argv": argv, "cwd": os.getcwd()}) + "\n")
    if tool == "vivado":
        vivado(argv)
    else:
        hls(tool, argv)


if __name__ == "__main__":
    main()
