"""A real OpenSSH server on 127.0.0.1 for the deploy tests: a throw-away user (no password, a
temporary home), host and client keys made here, and an ssh config file naming it `sqzboard`."""
from __future__ import annotations

import os
import secrets
import shutil
import socket
import subprocess
import tempfile
import time
from contextlib import contextmanager
from pathlib import Path

SSHD = "/usr/sbin/sshd"


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def _keygen(path: Path) -> None:
    subprocess.run(["ssh-keygen", "-q", "-t", "ed25519", "-N", "", "-f", str(path)], check=True)


@contextmanager
def ssh_server(work: Path):
    """Yields (ssh config path, host alias, user's home). Needs root and Debian's openssh-server
    (scripts/system-packages.sh installs it)."""
    assert os.geteuid() == 0, "the deploy test starts sshd and adds a throw-away user: run as root (CI does)"
    assert Path(SSHD).exists(), "sshd missing: run scripts/system-packages.sh (apt-get install openssh-server)"
    user = f"sqzdeploy{secrets.token_hex(3)}"
    home = Path(tempfile.mkdtemp(prefix=f"{user}-", dir="/tmp"))
    work.mkdir(parents=True, exist_ok=True)
    subprocess.run(["useradd", "-M", "-d", str(home), "-s", "/bin/sh", user], check=True)
    proc = None
    try:
        subprocess.run(["usermod", "-p", "*", user], check=True)  # no password, but not a locked account
        _keygen(work / "host_key")
        _keygen(work / "client_key")
        (home / ".ssh").mkdir(mode=0o700)
        shutil.copyfile(work / "client_key.pub", home / ".ssh" / "authorized_keys")
        os.chmod(home, 0o755)
        subprocess.run(["chown", "-R", f"{user}:{user}", str(home)], check=True)
        port = _free_port()
        (work / "sshd_config").write_text(
            f"Port {port}\nListenAddress 127.0.0.1\nHostKey {work / 'host_key'}\nPidFile {work / 'sshd.pid'}\n"
            f"AuthorizedKeysFile .ssh/authorized_keys\nPasswordAuthentication no\nKbdInteractiveAuthentication no\n"
            f"UsePAM no\nAllowUsers {user}\n")
        host_pub = (work / "host_key.pub").read_text().split()
        (work / "known_hosts").write_text(f"[127.0.0.1]:{port} {host_pub[0]} {host_pub[1]}\n")
        (work / "ssh_config").write_text(
            f"Host sqzboard\n  HostName 127.0.0.1\n  Port {port}\n  User {user}\n  IdentityFile {work / 'client_key'}\n"
            f"  IdentitiesOnly yes\n  UserKnownHostsFile {work / 'known_hosts'}\n  StrictHostKeyChecking yes\n")
        Path("/run/sshd").mkdir(exist_ok=True)  # sshd's privilege-separation directory
        log = open(work / "sshd.log", "w")
        proc = subprocess.Popen([SSHD, "-D", "-e", "-f", str(work / "sshd_config")], stderr=log)
        for _ in range(100):
            with socket.socket() as s:
                if s.connect_ex(("127.0.0.1", port)) == 0:
                    break
            time.sleep(0.1)
        yield work / "ssh_config", "sqzboard", home
    finally:
        if proc is not None:
            proc.terminate()
            proc.wait(timeout=10)
        subprocess.run(["pkill", "-u", user], capture_output=True)
        subprocess.run(["userdel", user], capture_output=True)
        shutil.rmtree(home, ignore_errors=True)
