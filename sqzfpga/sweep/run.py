"""A sweep over its output folder: every trial of the spec not yet finished there runs as a Ray task; each
one's result is written as it arrives (trials/ID.json atomically, last, after its checkpoint and log), so
a rerun skips what finished and an interrupted sweep loses only trials in flight. Then sweep.json (every
trial), pareto.json, a full build of each Pareto point (C simulation exact) and the page.

    DIR/trials/ID.json, ID.log, ID/model.pt   one trial: result, training log, fine-tuned checkpoint
    DIR/finished.log                          one line per trial as it finished (host and process)
    DIR/sweep.json, DIR/pareto.json           every trial; the front and its builds
    DIR/builds/ID/                            the build of a Pareto point (report.html inside)
    DIR/sweep.html, DIR/sweep.md, DIR/sweep/  the page and its figure
"""
from __future__ import annotations

import dataclasses
import json
import sys
import time
from pathlib import Path

from sqzfpga.atomic import atomic_path
from sqzfpga.errors import UserError
from sqzfpga.sweep import engine, pareto
from sqzfpga.sweep.spec import SweepSpec, Trial
from sqzfpga.sweep.trial import TrialResult


def budget(spec: SweepSpec) -> dict:
    """What makes two runs of a trial comparable: its training budget and the plans' clock."""
    return {**{k: (str(v) if isinstance(v, Path) else v) for k, v in dataclasses.asdict(spec.train).items()},
            "clock_mhz": spec.build.clock_mhz}


def finished(out: Path, trial: Trial, want: dict) -> TrialResult | None:
    """The trial's result in `out`, if it finished there with the same budget."""
    path = out / "trials" / f"{trial.id}.json"
    if not path.exists():
        return None
    d = json.loads(path.read_text())
    if d.get("budget") != want:
        raise UserError(f"--out {out}: trial {trial.id} finished there with another budget ({path}); a rerun "
                        "continues a sweep with the same [train] and clock only: choose another --out")
    return TrialResult.from_dict(d["result"])


def sweep(spec: SweepSpec, out: Path, address: str | None = None, log=print, progress: bool = False) -> dict:
    from tqdm import tqdm

    t0 = time.time()
    out.mkdir(parents=True, exist_ok=True)
    want = budget(spec)
    results = {t.id: r for t in spec.trials if (r := finished(out, t, want)) is not None}
    todo = [t for t in spec.trials if t.id not in results]
    log(f"[sweep] {len(spec.trials)} trials, {len(results)} finished before, {len(todo)} to run "
        f"({'cluster ' + address if address else 'Ray started here'})")
    failed: dict[str, str] = {}
    builds: dict[str, dict] = {}
    if todo:  # a checkpoint no trial can start from: one error now, not one per trial on the cluster
        from sqzfpga.model.checkpoint import DEFAULT_CHECKPOINT
        from sqzfpga.sweep.trial import source

        source(spec.train.init or DEFAULT_CHECKPOINT, todo)
    if todo or spec.build.pareto:
        with engine.session(address, cpus=None):
            if todo:
                bar = tqdm(total=len(todo), desc="trials", unit="trial", disable=not progress, file=sys.stderr)

                def done(key: str, value) -> None:
                    results[key] = _store(out, key, value, want)
                    bar.update(1)
                    log(f"[sweep] {len(results)}/{len(spec.trials)} {_line(results[key])}")

                def error(key: str, e: BaseException) -> None:
                    failed[key] = engine.reason(e)
                    bar.update(1)
                    log(f"[sweep] trial {key} failed: {failed[key]}")

                from sqzfpga.sweep import trial as trial_mod

                threads = max(1, int(spec.engine.cpus_per_trial))
                engine.run(trial_mod.run, {t.id: (t, spec.train, spec.build.clock_mhz, threads) for t in todo},
                           cpus=spec.engine.cpus_per_trial, retries=spec.engine.retries,
                           timeout_s=spec.engine.trial_timeout_s, on_result=done, on_error=error)
                bar.close()
            if spec.build.pareto:
                builds = _build_front(spec, out, pareto.front(list(results.values())), log)
    ordered = [results[t.id] for t in spec.trials if t.id in results]
    front = pareto.front(ordered)
    top = pareto.best(front)
    summary = {"spec": str(spec.path), "out": str(out), "trials": len(spec.trials), "finished": len(ordered),
               "ran": len(todo) - len(failed), "failed": failed, "pareto": [r.trial["id"] for r in front],
               "best": top.trial["id"] if top else None, "best_build": builds.get(top.trial["id"]) if top else None,
               "wall_s": round(time.time() - t0, 1)}
    _write_json(out / "sweep.json", {"summary": summary, "budget": want, "trials": [r.to_dict() for r in ordered]})
    _write_json(out / "pareto.json", {"best": summary["best"], "points": [
        {**r.to_dict(), "build": builds.get(r.trial["id"])} for r in front]})
    from sqzfpga.sweep.page import write_page

    summary["page"] = str(write_page(out))
    log(f"[sweep] {len(ordered)} of {len(spec.trials)} trials finished; Pareto front: "
        f"{', '.join(summary['pareto']) or 'empty (no trial fits)'}; best {summary['best']}; page {summary['page']}")
    broken = {k: b["error"] for k, b in builds.items() if b.get("error")}
    if failed or broken:
        what = [f"{len(failed)} trial(s)"] * bool(failed) + [f"{len(broken)} Pareto build(s)"] * bool(broken)
        why = "; ".join(f"{k}: {v}" for k, v in {**failed, **broken}.items())[:600]
        raise UserError(f"sweep: {' and '.join(what)} failed ({why}); the rest is in {out}; fix the cause and run the "
                        "same command again (finished trials and builds are skipped)")
    return summary


def _line(r: TrialResult) -> str:
    speed = f"{r.fps:,.0f} frames/s, LUT {r.lut_share:.0%}" if r.fps is not None else "no plan"
    return (f"{r.trial['id']}: accuracy {r.accuracy:.4f}, {speed}, {'fits' if r.fits else 'does NOT fit'} "
            f"({r.seconds:.0f} s on {r.host}:{r.pid})")


def _store(out: Path, key: str, value, want: dict) -> TrialResult:
    """The trial's checkpoint and log, then its result (the file a rerun looks for), then finished.log."""
    result, ckpt, text = value
    with atomic_path(out / "trials" / key / "model.pt") as tmp:
        tmp.write_bytes(ckpt)
    with atomic_path(out / "trials" / f"{key}.log") as tmp:
        tmp.write_text(text)
    _write_json(out / "trials" / f"{key}.json", {"budget": want, "result": result})
    with open(out / "finished.log", "a") as f:
        f.write(f"{key} {result['host']} {result['pid']} {time.strftime('%Y-%m-%dT%H:%M:%S')}\n")
    return TrialResult.from_dict(result)


def _write_json(path: Path, obj) -> None:
    with atomic_path(path) as tmp:
        tmp.write_text(json.dumps(obj, indent=2) + "\n")


def build_point(model: str, part: str, out: str, clock_mhz: float, images: int, data: str, max_cycles) -> dict:
    """A full build of one Pareto point (runs on a Ray worker; writes the build folder `out`)."""
    from sqzfpga.build import BuildRequest, build

    build(BuildRequest(model=Path(model), part=part, out=Path(out), clock_mhz=clock_mhz, images=images, data=data,
                       max_cycles=max_cycles), log=lambda line: None)
    return build_facts(Path(out))


def build_facts(folder: Path) -> dict:
    """What the page shows of a build: its folder, the C simulation, the frame rate."""
    b = json.loads((folder / "build.json").read_text())
    csim = b.get("csim") or {}
    return {"folder": str(folder), "csim_exact": csim.get("exact"), "csim_accuracy": csim.get("accuracy"),
            "csim_images": csim.get("images"), "fps": b.get("fps"), "fps_from": b.get("fps_from"),
            "cycles_per_frame": (b.get("rtl") or {}).get("cycles_per_frame")}


def _build_front(spec: SweepSpec, out: Path, front: list[TrialResult], log) -> dict[str, dict]:
    """Each Pareto point's build (DIR/builds/ID, shared with the workers' filesystem); one that exists is kept."""
    builds, calls = {}, {}
    for r in front:
        key, folder = r.trial["id"], out / "builds" / r.trial["id"]
        if (folder / "build.json").exists():
            builds[key] = build_facts(folder)
            continue
        fps = r.trial["fps"]
        calls[key] = (str(out / "trials" / key / "model.pt"), r.trial["part"], str(folder), spec.build.clock_mhz,
                      spec.build.images, str(spec.train.data),
                      None if fps is None else max(1, int(spec.build.clock_mhz * 1e6 // fps)))
    if calls:
        log(f"[sweep] building the {len(calls)} Pareto point(s) without a build: {', '.join(calls)}")

        def done(key, value):
            builds[key] = value
            log(f"[sweep] build {key}: C simulation {'exact' if value['csim_exact'] else 'NOT exact'}, "
                f"{value['folder']}")

        def error(key, e):
            builds[key] = {"folder": None, "error": engine.reason(e)}
            log(f"[sweep] build {key} failed: {builds[key]['error']}")

        engine.run(build_point, calls, cpus=1, retries=spec.engine.retries, timeout_s=spec.engine.trial_timeout_s,
                   on_result=done, on_error=error)
    return builds
