"""Lands the package in DEST, ON THE BOARD: `deploy` sends this file's source as `python3 -c SOURCE DEST`
with the package's tar.gz on stdin, so that the check of DEST and the copy happen in one SSH command (no
check-then-act across two connections) and DEST never passes through a shell unquoted.

DEST must be absent, an empty folder, or an earlier sqzfpga package: its MARKER file, and nothing in it
that the marker does not list, except what the package's own code writes there at run time (the marker's
`scratch` folders, `__pycache__`). Anything else -- a file, a symbolic link (DEST or a folder above it),
the home folder, `/`, a folder with someone's files -- is refused with one line on stderr, exit REFUSED,
and nothing is touched. The package is unpacked into DEST.partial-XXXX beside DEST and swapped in by
renames; a failure removes the partial and leaves an earlier package as it was.
Standard library only, Python 3.6 or later (PYNQ 2.5's)."""
import json
import os
import shutil
import signal
import sys
import tarfile
import tempfile

MARKER = ".sqzfpga-deploy"
REFUSED = 3
EXPECTED = "expected an absent folder, an empty one, or an earlier sqzfpga package (with its " + MARKER + " file)"


class Refused(Exception):
    pass


def _marker(path):
    """The marker of an earlier package at `path`, or None when there is none."""
    m = os.path.join(path, MARKER)
    if not os.path.lexists(m):
        return None
    try:
        if os.path.islink(m) or not os.path.isfile(m):
            raise ValueError
        with open(m) as f:
            meta = json.load(f)
        if not isinstance(meta, dict) or meta.get("sqzfpga_deploy") != 1 or not isinstance(meta.get("files"), list):
            raise ValueError
        return meta
    except ValueError:
        raise Refused("holds a " + MARKER + " file that is not an sqzfpga marker") from None


def _strangers(path, meta):
    """Entries under `path` that the earlier package did not bring and its code does not write."""
    ours = set(meta["files"]) | {MARKER}
    dirs = set()
    for f in ours:
        while "/" in f:
            f = os.path.dirname(f)
            dirs.add(f)
    scratch = tuple(s.rstrip("/") + "/" for s in meta.get("scratch", []))
    found = []
    for root, subdirs, files in os.walk(path):
        rel_root = os.path.relpath(root, path)
        for name in subdirs + files:
            rel = os.path.normpath(os.path.join(rel_root, name))
            full = os.path.join(root, name)
            if (rel + "/").startswith(scratch) or "__pycache__" in rel.split("/"):
                continue
            if os.path.islink(full) or not (rel in dirs if name in subdirs else rel in ours):
                found.append(rel)
        subdirs[:] = [d for d in subdirs if not os.path.islink(os.path.join(root, d))]
    return sorted(found)


def check(dest):
    """DEST's absolute path and its state ('absent', 'empty' or the earlier package's marker); raises Refused."""
    if not dest or "\0" in dest or ".." in dest.split("/"):
        raise Refused("is not a plain path (empty, or with a .. component)")
    path = os.path.abspath(dest)
    home = os.path.realpath(os.path.expanduser("~"))
    prefix = "/"
    for part in path.strip("/").split("/"):
        prefix = os.path.join(prefix, part)
        if os.path.islink(prefix):
            raise Refused("goes through the symbolic link " + prefix + " (to " + os.readlink(prefix) +
                          "); name the real folder instead")
    real = os.path.realpath(path)
    if real == "/" or (home + "/").startswith(real.rstrip("/") + "/"):
        raise Refused("is the home folder, / or a folder above the home folder")
    if not os.path.lexists(path):
        return path, "absent"
    if not os.path.isdir(path):
        raise Refused("is a file, not a folder")
    if not os.listdir(path):
        return path, "empty"
    meta = _marker(path)
    if meta is None:
        raise Refused("is a folder with files in it and no " + MARKER + " file (not an sqzfpga package)")
    strangers = _strangers(path, meta)
    if strangers:
        raise Refused("is an earlier sqzfpga package but holds files that it did not bring (" +
                      ", ".join(strangers[:3]) + (", ..." if len(strangers) > 3 else "") + ")")
    return path, meta


def _unpack(stream, into):
    """Extract the package (regular files and folders only, relative names); its file list."""
    files = []
    with tarfile.open(fileobj=stream, mode="r|gz") as tar:
        for m in tar:
            name = os.path.normpath(m.name)
            if name.startswith("/") or name == ".." or name.startswith("../") or not (m.isfile() or m.isdir()):
                raise ValueError("unexpected entry in the package: " + repr(m.name))
            target = os.path.join(into, name)
            if m.isdir():
                os.makedirs(target, exist_ok=True)
                continue
            os.makedirs(os.path.dirname(target), exist_ok=True)
            with tar.extractfile(m) as src, open(target, "wb") as dst:
                shutil.copyfileobj(src, dst)
            os.chmod(target, 0o755 if m.mode & 0o111 else 0o644)
            files.append(name)
    return files


def _carry_scratch(old, new, meta):
    """Move the earlier package's scratch folders (e.g. the compiled stand-in) into the new one: the code
    that uses them checks that they still fit (the stand-in's cache is keyed by its sources)."""
    for s in meta.get("scratch", []):
        src, dst = os.path.join(old, s), os.path.join(new, s)
        if os.path.isdir(src) and not os.path.islink(src) and os.path.isdir(os.path.dirname(dst)) \
                and not os.path.lexists(dst):
            os.rename(src, dst)


def land(dest, stream):
    path, state = check(dest)
    parent, base = os.path.split(path)
    os.makedirs(parent, exist_ok=True)
    tmp = tempfile.mkdtemp(prefix=base + ".partial-", dir=parent)
    try:
        files = _unpack(stream, tmp)
        meta = {}
        if os.path.isfile(os.path.join(tmp, MARKER)):
            with open(os.path.join(tmp, MARKER)) as f:
                meta = json.load(f)
        meta.update(sqzfpga_deploy=1, files=sorted(set(files) - {MARKER}))
        with open(os.path.join(tmp, MARKER), "w") as f:
            json.dump(meta, f, indent=1)
        os.chmod(tmp, 0o755)
        if isinstance(state, dict):  # an earlier package: aside, the new one in, the old one removed
            _carry_scratch(path, tmp, state)
            old = tempfile.mkdtemp(prefix=base + ".old-", dir=parent)
            os.rename(path, os.path.join(old, base))
            try:
                os.rename(tmp, path)
            except OSError:
                os.rename(os.path.join(old, base), path)
                raise
            shutil.rmtree(old)
        else:  # rename() replaces an empty folder, and fails if DEST has been filled meanwhile
            os.rename(tmp, path)
    except BaseException:
        shutil.rmtree(tmp, ignore_errors=True)
        raise


def _stop(signum, frame):
    raise SystemExit(1)


def main(argv):
    for s in (signal.SIGHUP, signal.SIGTERM):
        signal.signal(s, _stop)  # a dropped connection still removes the partial copy
    try:
        land(argv[0], sys.stdin.buffer)
    except Refused as e:
        print("--dest " + argv[0] + " (" + os.path.abspath(argv[0] or ".") + "): " + str(e) + "; " + EXPECTED +
              "; choose another --dest, or move the files out", file=sys.stderr)
        return REFUSED
    except (OSError, ValueError, EOFError, tarfile.TarError) as e:
        print(e.strerror + ": " + str(e.filename) if isinstance(e, OSError) and e.strerror else str(e),
              file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
