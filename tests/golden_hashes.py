"""SHA-256 of a build's generated files, and the checked-in list they must match (tests/golden/).

The list pins every generated file of the default build (HLS project and weights, SV and ROM files,
Vivado/Vitis Tcl, the deploy package), so that a refactoring that claims "behaviour unchanged" is
checked byte for byte. Only a deliberate change updates it:

    python -m sqzfpga build --part xc7z020 --board pynq-z2 --out DIR
    python tests/golden_hashes.py --update DIR     # rewrites tests/golden/default_build.sha256
    python tests/golden_hashes.py DIR              # compares, names what differs (exit 1)

Two builds of the same tree differ only in what is normalised or left out below.
"""
from __future__ import annotations

import argparse
import hashlib
import json
import re
import sys
from pathlib import Path

GOLDEN = Path(__file__).resolve().parent / "golden" / "default_build.sha256"
FOLDERS = ("hls", "rtl", "vivado", "deploy")  # every file under these is hashed, except LEFT_OUT
LEFT_OUT = {  # glob (relative to the build folder) -> why it is not hashed
    "hls/firmware/*.so": "g++ output of hls4ml's compile (its name carries a random stamp), not a generated source",
    "deploy/csim/compiled/**/*": "the stand-in compiled on this host, and the compiler's log",
    "deploy/**/__pycache__/*": "Python's bytecode cache, written when the package's validate.py runs in place",
}
VARIABLE_KEYS = {  # JSON file -> keys dropped before hashing
    "deploy/csim/recipe.json": ("compile_s", "machine"),  # compile time; the build host's architecture
    "deploy/.sqzfpga-deploy": ("build_id", "built"),  # a random id and the time of the build
}
VARIABLE_LINES = {  # file -> lines whose value (after group 1) is replaced by <VARIABLE>
    "hls/build_lib.sh": rb"^(LIB_STAMP=).*$",  # hls4ml's random stamp, in its compiled library's name
    "hls/hls4ml_config.yml": rb"^((?:Stamp|OutputDir): ).*$",  # that stamp; the temporary build folder's path
}


def selected(build: Path) -> list[Path]:
    left_out = {p for pattern in LEFT_OUT for p in build.glob(pattern)}
    return sorted(p for folder in FOLDERS for p in (build / folder).rglob("*")
                  if p.is_file() and p not in left_out)


def normalised(build: Path, path: Path) -> bytes:
    rel = path.relative_to(build).as_posix()
    data = path.read_bytes()
    if rel in VARIABLE_KEYS:
        doc = json.loads(data)
        for key in VARIABLE_KEYS[rel]:
            doc.pop(key, None)
        data = json.dumps(doc, indent=1, sort_keys=True).encode()
    if rel in VARIABLE_LINES:
        data = re.sub(VARIABLE_LINES[rel], rb"\1<VARIABLE>", data, flags=re.MULTILINE)
    return data


def hashes(build: Path) -> dict[str, str]:
    """Relative path -> SHA-256 of the normalised content, for every selected file of `build`."""
    build = Path(build)
    return {p.relative_to(build).as_posix(): hashlib.sha256(normalised(build, p)).hexdigest()
            for p in selected(build)}


def read(path: Path = GOLDEN) -> dict[str, str]:
    return dict(line.split("\t") for line in path.read_text().splitlines() if line)


def write(table: dict[str, str], path: Path = GOLDEN) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text("".join(f"{rel}\t{digest}\n" for rel, digest in sorted(table.items())))


def compare(expected: dict[str, str], actual: dict[str, str]) -> dict[str, list[str]]:
    """The files that differ: changed, missing (expected, not built) and extra (built, not expected)."""
    return {"changed": sorted(k for k in expected.keys() & actual.keys() if expected[k] != actual[k]),
            "missing": sorted(expected.keys() - actual.keys()),
            "extra": sorted(actual.keys() - expected.keys())}


def describe(diff: dict[str, list[str]]) -> str:
    return "; ".join(f"{kind} ({len(files)}): {', '.join(files)}" for kind, files in diff.items() if files)


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("build", type=Path, help="a default build's folder")
    ap.add_argument("--update", action="store_true", help=f"rewrite {GOLDEN.name} from this build")
    args = ap.parse_args(argv)
    if not (args.build / "rtl").is_dir():
        print(f"error: {args.build} is not a build folder (no rtl/); pass the --out of a build", file=sys.stderr)
        return 2
    table = hashes(args.build)
    if args.update:
        write(table)
        print(f"wrote {len(table)} hashes to {GOLDEN}")
        return 0
    diff = describe(compare(read(), table))
    print(diff or f"all {len(table)} files match {GOLDEN.name}")
    return 1 if diff else 0


if __name__ == "__main__":
    sys.exit(main())
