# Syntax and name check of a generated Vivado / Vitis HLS script, without Vivado:
#   tclsh tclcheck.tcl SCRIPT [KEY VALUE ...]
# The script runs in a safe interpreter where the Vivado commands it may use are stubs that record
# their arguments (one line per call: CALL, the command and its words, tab-separated, with backslash,
# tab and newline escaped as \\ \t \n), `source` checks the sourced
# file the same way, and file-system commands only compute paths. Any other command, a parse error
# or a runtime error of the script's own Tcl fails with the error and where it happened.
# Where the script looks at a result, a stub returns a plausible one (table below: by "COMMAND" or
# "COMMAND FIRST-WORD"); KEY VALUE pairs replace entries, so a test can take the other branch
# (a negative slack, board files missing, no .hwh); a KEY ::env(NAME) sets that environment variable.
set vivado {
    create_project open_project close_project current_project set_property get_property add_files
    current_fileset get_fileset get_files update_ip_catalog get_ipdefs create_bd_design create_bd_cell
    get_bd_cells get_bd_pins get_bd_intf_pins connect_bd_net connect_bd_intf_net apply_bd_automation
    assign_bd_address validate_bd_design save_bd_design make_wrapper launch_runs wait_on_run get_runs
    set_top open_solution set_part create_clock csynth_design csim_design export_design exit cd
    get_board_parts set_param get_param open_run report_timing_summary get_timing_paths write_bitstream
    ipx::package_project ipx::current_core ipx::infer_bus_interfaces ipx::associate_bus_interfaces
    ipx::get_bus_interfaces ipx::get_bus_parameters ipx::add_bus_parameter ipx::get_file_groups
    ipx::get_files ipx::add_file
    ipx::create_xgui_files ipx::update_checksums ipx::check_integrity ipx::save_core
}
array set returns {
    {get_property PROGRESS} 100%
    {get_property SLACK} 0.412
    {get_property STARTPOINT_PIN} accel/u_l1/acc_reg[3]/C
    {get_property ENDPOINT_PIN} accel/u_l2/sum_reg[7]/D
    get_timing_paths timing_path_1
    glob stub.bit
    {file exists} 1
    ipx::get_bus_interfaces bus_interface_1
    ipx::get_bus_parameters {}
    ipx::add_bus_parameter bus_parameter_1
    ipx::get_file_groups file_group_1
    ipx::get_files {}
    ipx::add_file ip_file_1
}
foreach {key value} [lrange $argv 1 end] { set returns($key) $value }

set safe [interp create -safe]
$safe eval {namespace eval ipx {}}
foreach key [array names returns ::env(*)] { $safe eval [list set $key $returns($key)] }

proc emit {words} {
    puts [join [concat CALL [lmap w $words {string map [list \\ \\\\ \t \\t \n \\n] $w}]] \t]
}
proc record {cmd args} {
    global returns
    emit [concat [list $cmd] $args]
    set key "$cmd [lindex $args 0]"
    if {[info exists returns($key)]} { return $returns($key) }
    if {[info exists returns($cmd)]} { return $returns($cmd) }
    # a catalog or board-part lookup finds its pattern, with a version
    if {$cmd eq "get_ipdefs"} { return [string map {* 1.0} [lindex $args end]] }
    if {$cmd eq "get_board_parts"} { return [string map {*: vendor.example: :* :1.0} [lindex $args end]] }
    return ""
}
proc fs {sub args} {
    switch -- $sub {
        join - dirname - tail - rootname - extension - split { return [file $sub {*}$args] }
        normalize { return [file normalize {*}$args] }
        default { return [record file $sub {*}$args] }
    }
}
proc check {path} {
    global safe
    set f [open $path]
    set text [read $f]
    close $f
    if {![info complete $text]} { error "$path: unbalanced braces, brackets or quotes" }
    $safe eval [list info script $path]
    if {[catch {$safe eval $text} msg opts]} {
        set info [dict get $opts -errorinfo]
        error "$path: $msg\n$info"
    }
}
proc src {path} {
    emit [list source $path]
    check $path
}
foreach cmd $vivado { interp alias $safe $cmd {} record $cmd }
interp alias $safe file {} fs
interp alias $safe glob {} record glob
interp alias $safe puts {} record puts
interp alias $safe source {} src
if {[catch {check [lindex $argv 0]} msg]} {
    puts stderr $msg
    exit 1
}
