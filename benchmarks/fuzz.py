"""Fuzz campaign: hundreds of random small SqueezeNet-family models (tests/fuzzing.py), each checked
Brevitas == QONNX reference == C simulation (output and every layer); every Nth also through the
generated RTL (Verilator) == C simulation. Unlike the bounded CI test, a failing example does not
stop the run: it is written to failures.jsonl (paste it into tests/test_fuzz.py as an @example)
and its work folder is kept.

    .venv/bin/python benchmarks/fuzz.py [--examples 200] [--rtl-every 20] [--workers 2] [--seed 0] [--json]
"""
from __future__ import annotations

import argparse
import collections
import json
import shutil
import subprocess
import sys
import time
import traceback
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
WORK = ROOT / "benchmarks" / "out" / "fuzz"
sys.path.insert(0, str(ROOT / "tests"))


def isolated(ex: dict, folder: Path, rtl: bool) -> dict:
    """fuzzing.check in a forked child, so an abort in the C simulation (an ap_types assertion kills
    the process) is recorded as a failing example instead of ending the campaign."""
    import multiprocessing

    import fuzzing

    def child(conn):
        try:
            conn.send({"ok": True, **fuzzing.check(ex, folder, rtl=rtl)})
        except Exception as e:  # noqa: BLE001  (a finding: recorded, the campaign goes on)
            conn.send({"ok": False, "error": f"{type(e).__name__}: {e}"[:4000],
                       "traceback": traceback.format_exc()[-4000:]})

    recv, send = multiprocessing.Pipe(duplex=False)
    proc = multiprocessing.get_context("fork").Process(target=child, args=(send,))
    proc.start()
    send.close()
    try:
        return recv.recv()
    except EOFError:  # died without an answer
        proc.join()
        return {"ok": False, "error": f"crashed (exit code {proc.exitcode}; an assertion in the C simulation?)"}
    finally:
        proc.join()


def shard(index: int, examples: int, rtl_every: int, seed: int) -> None:
    """One worker: `examples` hypothesis examples from seed `seed + index`, one JSON line each."""
    import warnings

    from hypothesis import HealthCheck, Phase, given, settings
    from hypothesis import seed as hseed

    import fuzzing

    warnings.filterwarnings("ignore")
    out = WORK / f"shard{index}.jsonl"
    out.write_text("")
    count = [0]

    @hseed(seed + index)
    @settings(max_examples=examples, deadline=None, database=None, phases=[Phase.generate],
              suppress_health_check=list(HealthCheck))
    @given(fuzzing.configs())
    def run(ex):
        count[0] += 1
        n = count[0]
        folder = WORK / f"s{index}-{n:03d}"
        shutil.rmtree(folder, ignore_errors=True)
        rtl = rtl_every > 0 and n % rtl_every == 0
        rec = {"shard": index, "n": n, "rtl": rtl, "example": ex}
        t0 = time.time()
        rec.update(isolated(ex, folder, rtl))
        if rec["ok"]:
            shutil.rmtree(folder, ignore_errors=True)
        rec["s"] = round(time.time() - t0, 1)
        with out.open("a") as f:
            f.write(json.dumps(rec) + "\n")
        print(f"[fuzz] shard {index} #{n}: {'ok' if rec['ok'] else 'FAIL ' + rec['error'][:200]} "
              f"({rec['s']} s{', RTL' if rtl else ''})", file=sys.stderr, flush=True)

    run()


def summary(records: list[dict], wall_s: float) -> dict:
    ok = [r for r in records if r["ok"]]
    rtl = [r for r in ok if r.get("rtl")]
    exs = [r["example"] for r in records]
    bits = [b for e in exs for b in [*e["layer_weight_bits"].values(), *e["layer_act_bits"].values()]]
    return {"examples": len(records), "passed": len(ok), "failed": len(records) - len(ok),
            "rtl_checked": len(rtl), "rtl_cycles_vs_planned_max_pct": round(max(
                (abs(r["rtl"]["cycles_per_frame"] / r["rtl"]["planned"] - 1) * 100 for r in rtl), default=0.0), 1),
            "stems": dict(collections.Counter(e["stem"] for e in exs)),
            "bypass": dict(collections.Counter(e["bypass"] for e in exs)),
            "pools": dict(collections.Counter(f"{e['pool_kernel']}x{e['pool_kernel']} "
                                              f"{'ceil' if e['ceil_mode'] else 'floor'}" for e in exs)),
            "fires": dict(collections.Counter(e["num_fires"] for e in exs)),
            "in_channels": dict(collections.Counter(e["in_channels"] for e in exs)),
            "input_sizes": [min(e["input_size"] for e in exs), max(e["input_size"] for e in exs)] if exs else [],
            "bit_widths": dict(sorted(collections.Counter(bits).items())),
            "degenerate_outputs": sum(r.get("distinct_outputs", 2) <= 1 for r in ok),
            "s_per_example": round(sum(r["s"] for r in records) / max(1, len(records)), 1),
            "wall_s": round(wall_s, 1)}


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--examples", type=int, default=200, help="examples in all (default 200)")
    ap.add_argument("--rtl-every", type=int, default=20, help="every Nth example also through the RTL (0: none)")
    ap.add_argument("--workers", type=int, default=2)
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--json", action="store_true")
    ap.add_argument("--shard", type=int, help=argparse.SUPPRESS)
    a = ap.parse_args()
    WORK.mkdir(parents=True, exist_ok=True)
    per = -(-a.examples // a.workers)
    if a.shard is not None:
        return shard(a.shard, per, a.rtl_every, a.seed)
    t0 = time.time()
    procs = [subprocess.Popen([sys.executable, __file__, "--shard", str(i), "--examples", str(a.examples),
                               "--workers", str(a.workers), "--rtl-every", str(a.rtl_every), "--seed", str(a.seed)])
             for i in range(a.workers)]
    rcs = [p.wait() for p in procs]
    records = [json.loads(line) for i in range(a.workers)
               for line in (WORK / f"shard{i}.jsonl").read_text().splitlines() if line.strip()]
    fails = [r for r in records if not r["ok"]]
    (WORK / "failures.jsonl").write_text("".join(json.dumps(r["example"]) + "\n" for r in fails))
    s = summary(records, time.time() - t0)
    print(f"fuzz: {s['examples']} random models, {s['passed']} exact (Brevitas == QONNX == C simulation, every "
          f"layer), {s['failed']} failing; {s['rtl_checked']} also RTL == C simulation (cycles within "
          f"{s['rtl_cycles_vs_planned_max_pct']}% of planned); {s['s_per_example']} s per example, "
          f"{s['wall_s']} s wall on {a.workers} workers")
    print(f"  stems {s['stems']}, bypass {s['bypass']}, pools {s['pools']}, fires {s['fires']}, input channels "
          f"{s['in_channels']}, input sizes {s['input_sizes'][0]}..{s['input_sizes'][1]}, layer bit widths "
          f"{s['bit_widths']}; {s['degenerate_outputs']} with a constant output")
    for r in fails:
        print(f"  FAIL shard {r['shard']} #{r['n']}: {r['error'][:300]}\n    {json.dumps(r['example'])}")
    if a.json:
        print(json.dumps(s))
    sys.exit(1 if fails or any(rcs) else 0)


if __name__ == "__main__":
    main()
