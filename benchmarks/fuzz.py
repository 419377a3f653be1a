"""Fuzz campaign: hundreds of random small models, each checked Brevitas == QONNX reference == C
simulation (output and every layer); every Nth also through the generated RTL (Verilator) == C
simulation. The models: sqzfpga's SqueezeNet family (tests/fuzzing.py, `--generator family`), models
written as Brevitas users write them with Dense heads, per-channel weight scales, folded BatchNorm,
preprocessed inputs and signed outputs (tests/user_fuzz.py, `--generator user`), or both (the
default, drawn alternately by hypothesis). Unlike the bounded CI test, a failing example does not
stop the run: it is written to failures.jsonl (paste it into tests/test_fuzz.py as an @example)
and its work folder is kept; an RTL-checked model whose simulated cycles per frame lie more than
PLAN_TOLERANCE_PCT from its plan is listed too, and either makes the exit status 1. A model the
toolchain refuses with one error line counts as refused, not passed; only the reasons listed in
user_fuzz.INTENDED_REFUSALS are intended, any other refusal is a failure.

    .venv/bin/python benchmarks/fuzz.py [--examples 200] [--rtl-every 20] [--workers 2] [--seed 0]
                                        [--generator both|family|user] [--address HOST:PORT] [--json]

The shards run as Ray tasks on the sweep's engine (sqzfpga/sweep/engine.py): on a Ray instance started
here, or with --address on a running cluster (every node with this checkout at the same path, as the
shards import the generators from tests/ and write their progress lines under benchmarks/out/fuzz/).
"""
from __future__ import annotations

import argparse
import collections
import json
import math
import shutil
import statistics
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
    import user_fuzz
    from sqzfpga.errors import UserError

    def child(conn):
        try:
            check = user_fuzz.check if user_fuzz.is_user(ex) else fuzzing.check
            conn.send({"ok": True, **check(ex, folder, rtl=rtl)})
        except UserError as e:  # refused with one error line: intended or a finding
            intended = user_fuzz.refusal(str(e))
            conn.send({"ok": False, "refused": intended or "unintended", "error": f"refused: {e}"[:4000]})
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


def shard(index: int, examples: int, rtl_every: int, seed: int, generator: str) -> list[dict]:
    """One shard (a Ray task): `examples` hypothesis examples from seed `seed + index`, one JSON line each
    in shardN.jsonl as it finishes (progress), all returned at the end."""
    import warnings

    if str(ROOT / "tests") not in sys.path:  # on a Ray worker: the generators live in the checkout's tests/
        sys.path.insert(0, str(ROOT / "tests"))

    from hypothesis import HealthCheck, Phase, given, settings
    from hypothesis import seed as hseed

    import fuzzing
    import user_fuzz

    warnings.filterwarnings("ignore")
    strategy = {"family": fuzzing.configs(), "user": user_fuzz.user_models(),
                "both": fuzzing.configs() | user_fuzz.user_models()}[generator]
    out = WORK / f"shard{index}.jsonl"
    out.write_text("")
    count, records = [0], []

    @hseed(seed + index)
    @settings(max_examples=examples, deadline=None, database=None, phases=[Phase.generate],
              suppress_health_check=list(HealthCheck))
    @given(strategy)
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
        records.append(rec)
        with out.open("a") as f:
            f.write(json.dumps(rec) + "\n")
        status = "ok" if rec["ok"] else ("REFUSED " if rec.get("refused") else "FAIL ") + rec["error"][:200]
        print(f"[fuzz] shard {index} #{n}: {status} "
              f"({rec['s']} s{', RTL' if rtl else ''})", file=sys.stderr, flush=True)

    run()
    return records


PLAN_TOLERANCE_PCT = 5  # simulated cycles per frame within this of the plan (issue 19's acceptance)


def plan_errors(errs: list[float]) -> dict:
    """Simulated minus planned cycles per frame, in % of planned, over the RTL-checked models: the
    extremes, the median, how many lie beyond the tolerance, and a histogram in 1% bins."""
    if not errs:
        return {}
    bins = collections.Counter(f"{math.floor(e):+d}..{math.floor(e) + 1:+d}" for e in errs)
    return {"min": round(min(errs), 2), "median": round(float(statistics.median(errs)), 2), "max": round(max(errs), 2),
            "beyond_tolerance": sum(abs(e) > PLAN_TOLERANCE_PCT for e in errs), "tolerance": PLAN_TOLERANCE_PCT,
            "histogram": dict(sorted(bins.items(), key=lambda kv: float(kv[0].split("..")[0])))}


def summary(records: list[dict], wall_s: float) -> dict:
    import user_fuzz

    ok = [r for r in records if r["ok"]]
    errs = [(r["rtl"]["cycles_per_frame"] / r["rtl"]["planned"] - 1) * 100 for r in ok if r.get("rtl")]
    refused = [r for r in records if r.get("refused")]
    rtl = [r for r in ok if r.get("rtl")]
    fam = [r["example"] for r in records if not user_fuzz.is_user(r["example"])]
    users = [r["example"] for r in records if user_fuzz.is_user(r["example"])]
    bits = [b for e in fam for b in [*e["layer_weight_bits"].values(), *e["layer_act_bits"].values()]]
    bits += [b for e in users for b in [*(c[k] for c in e["convs"] for k in ("wbits", "abits")), *e["fc_wbits"]]]
    count = collections.Counter
    out = {"examples": len(records), "passed": len(ok),
           "refused_intended": dict(count(r["refused"] for r in refused if r["refused"] != "unintended")),
           "failed": len(records) - len(ok) - sum(r["refused"] != "unintended" for r in refused),
           "rtl_checked": len(rtl), "rtl_cycles_vs_planned_max_pct": round(max(map(abs, errs), default=0.0), 1),
           "rtl_plan_error_pct": plan_errors(errs),
           "rtl_frames_max": max((r["rtl"]["frames"] for r in rtl), default=0),
           "rtl_not_steady": sum(not r["rtl"]["steady"] for r in rtl),
           "family_models": len(fam), "user_models": len(users),
           "in_channels": dict(count(e["in_channels"] for e in fam + users)),
           "input_sizes": [min(e["input_size"] for e in fam + users), max(e["input_size"] for e in fam + users)]
           if records else [0, 0],
           "bit_widths": dict(sorted(count(bits).items())),
           "degenerate_outputs": sum(r.get("distinct_outputs", 2) <= 1 for r in ok),
           "s_per_example": round(sum(r["s"] for r in records) / max(1, len(records)), 1),
           "wall_s": round(wall_s, 1)}
    if fam:
        out["family"] = {
            "stems": dict(count(e["stem"] for e in fam)), "bypass": dict(count(e["bypass"] for e in fam)),
            "pools": dict(count(f"{e['pool_kernel']}x{e['pool_kernel']} {'ceil' if e['ceil_mode'] else 'floor'}"
                                for e in fam)),
            "fires": dict(count(e["num_fires"] for e in fam))}
    if users:
        out["user"] = {
            "inputs": dict(count(e["input"] + (f" {'s' if e['in_signed'] else 'u'}{e['in_bits']}"
                                              if e["input"] != "raw" else "") for e in users)),
            "heads": dict(count(f"{e['head']}{' + hidden' if e['hidden'] else ''}" for e in users)),
            "outputs": dict(count(e["out"] for e in users)),
            "with_batchnorm": sum(any(c["bn"] for c in e["convs"]) for e in users),
            "with_per_channel": sum(any(c["per_channel"] for c in e["convs"]) or any(e["fc_per_channel"])
                                    for e in users),
            "with_dead_channel": sum(any(c["dead"] for c in e["convs"]) for e in users),
            "convs": dict(count(len(e["convs"]) for e in users))}
    return out


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--examples", type=int, default=200, help="examples in all (default 200)")
    ap.add_argument("--rtl-every", type=int, default=20, help="every Nth example also through the RTL (0: none)")
    ap.add_argument("--workers", type=int, default=2, help="shards, run as Ray tasks (default 2)")
    ap.add_argument("--address", help="a running Ray cluster (HOST:PORT) to run the shards on (default: Ray started "
                    "here with --workers CPUs)")
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--generator", choices=["both", "family", "user"], default="both",
                    help="which models to draw: sqzfpga's family, user-style Brevitas models, or both (default)")
    ap.add_argument("--json", action="store_true")
    a = ap.parse_args()
    WORK.mkdir(parents=True, exist_ok=True)
    per = -(-a.examples // a.workers)
    t0 = time.time()
    from sqzfpga.sweep import engine

    shards, broken = {}, []

    def died(key, e):
        broken.append(key)
        print(f"[fuzz] shard {key} stopped: {type(e).__name__}: {e}"[:600], file=sys.stderr, flush=True)

    with engine.session(a.address, cpus=None if a.address else a.workers):  # the sweep's engine: Ray tasks
        engine.run(shard, {str(i): (i, per, a.rtl_every, a.seed, a.generator) for i in range(a.workers)},
                   cpus=1, retries=1, timeout_s=per * 1800.0, on_result=shards.__setitem__, on_error=died)
    records = [r for i in sorted(shards, key=int) for r in shards[i]]
    fails = [r for r in records if not r["ok"] and r.get("refused", "unintended") == "unintended"]
    (WORK / "failures.jsonl").write_text("".join(json.dumps(r["example"]) + "\n" for r in fails))
    s = summary(records, time.time() - t0)
    print(f"fuzz: {s['examples']} random models ({s['family_models']} family, {s['user_models']} user-style), "
          f"{s['passed']} exact (Brevitas == QONNX == C simulation, every layer), refused as intended "
          f"{s['refused_intended'] or 0}, {s['failed']} failing; {s['rtl_checked']} also RTL == C simulation (cycles "
          f"within {s['rtl_cycles_vs_planned_max_pct']}% of planned in steady state, up to {s['rtl_frames_max']} frames, "
          f"{s['rtl_not_steady']} not steady); {s['s_per_example']} s per example, "
          f"{s['wall_s']} s wall on {a.workers} workers")
    print(f"  input channels {s['in_channels']}, input sizes {s['input_sizes'][0]}..{s['input_sizes'][1]}, layer bit "
          f"widths {s['bit_widths']}; {s['degenerate_outputs']} with a constant output")
    for kind in ("family", "user"):
        if kind in s:
            print(f"  {kind}: {s[kind]}")
    if s["rtl_plan_error_pct"]:
        print(f"  simulated vs planned cycles per frame, % of planned: {s['rtl_plan_error_pct']}")
    off = [r for r in records if r["ok"] and r.get("rtl") and (not r["rtl"]["steady"] or
           abs(r["rtl"]["cycles_per_frame"] / r["rtl"]["planned"] - 1) * 100 > PLAN_TOLERANCE_PCT)]
    for r in off:
        steady = "" if r["rtl"]["steady"] else f" (not steady after {r['rtl']['frames']} frames)"
        print(f"  PLAN shard {r['shard']} #{r['n']}: {r['rtl']['cycles_per_frame']} cycles per frame simulated"
              f"{steady}, {r['rtl']['planned']} planned\n    {json.dumps(r['example'])}")
    for r in fails:
        print(f"  FAIL shard {r['shard']} #{r['n']}: {r['error'][:300]}\n    {json.dumps(r['example'])}")
    if a.json:
        print(json.dumps(s))
    sys.exit(1 if fails or off or broken else 0)


if __name__ == "__main__":
    main()
