#!/usr/bin/env bash
# Debian packages the tests use beyond Python: Tcl (tclsh checks the generated Vivado scripts),
# OpenSSH server (the deploy test logs into 127.0.0.1) and the system Python's numpy (what a board's
# python3 has; validate.py runs there), Chromium and a font (tests/test_report.py screenshots the
# build report headless). Installed only when missing, and only as root with apt-get.
set -euo pipefail
need=()
command -v tclsh >/dev/null || need+=(tcl)
[ -x /usr/sbin/sshd ] || need+=(openssh-server)
command -v ssh >/dev/null || need+=(openssh-client)
/usr/bin/python3 -c 'import numpy' 2>/dev/null || need+=(python3-numpy)
command -v chromium >/dev/null || need+=(chromium)
[ -e /usr/share/fonts/truetype/dejavu/DejaVuSans.ttf ] || need+=(fonts-dejavu-core)
[ ${#need[@]} -eq 0 ] && exit 0
if [ "$(id -u)" = 0 ] && command -v apt-get >/dev/null; then
  echo "installing Debian packages: ${need[*]} ..."
  apt-get update -qq
  DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends "${need[@]}" >/dev/null
else
  echo "note: the deploy and report tests need the Debian packages ${need[*]} (as root: apt-get install ${need[*]})" >&2
fi
