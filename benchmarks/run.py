"""`python -m benchmarks.run`: measure streamq, a hand-written ceiling and peer queues.

Starts its own redis-server per pass (no persistence, then AOF everysec), runs every
workload in fresh processes against a flushed Redis, repeats it, and writes
`results/<stamp>.json`, `.md` and `.png` (and `latest.*`). Installs nothing: peers run
from the virtualenvs that `python -m benchmarks.setup` made; a missing one is skipped
with a note. Systems are interleaved within each repeat so that drift of the machine
affects them alike.
"""

from __future__ import annotations

import argparse
import itertools
import os
import platform
import shlex
import shutil
import subprocess
import sys
import time
from contextlib import closing
from dataclasses import asdict, replace
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from . import chart, report, source
from .children import ChildFailed, run_role
from .peers import BENCH_DIR, SYSTEMS, System
from .progress import Progress, say
from .redis_server import REDIS_SERVER, private_redis
from .report import PassResult
from .workloads import QUICK, Bench, Sizes, Step, metrics_for, plan


def parse_args(argv: list[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(
        prog="python -m benchmarks.run",
        description=__doc__,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    parser.add_argument(
        "--quick",
        action="store_true",
        help="tiny sizes, one repeat: proves the scripts run (CI smoke test)",
    )
    parser.add_argument(
        "--only", default=",".join(SYSTEMS), help="comma-separated systems (default: all)"
    )
    parser.add_argument("--repeats", type=int, help="repeats per measurement (default 3)")
    parser.add_argument("--latency-seconds", type=float, help="length of a latency run")
    parser.add_argument("--n", type=int, help="N for the drain workloads")
    parser.add_argument("--no-aof", action="store_true", help="skip the AOF everysec pass")
    parser.add_argument(
        "--ref",
        help="measure streamq as committed at this git ref (e.g. HEAD) instead of the work tree",
    )
    parser.add_argument(
        "--out",
        type=Path,
        default=BENCH_DIR / "results",
        help="directory for the JSON, Markdown and PNG results",
    )
    return parser.parse_args(argv)


def sizes_from(args: argparse.Namespace) -> Sizes:
    sizes = QUICK if args.quick else Sizes()
    if args.repeats:
        sizes = replace(sizes, repeats=args.repeats)
    if args.latency_seconds:
        sizes = replace(sizes, latency_s=args.latency_seconds)
    if args.n:
        sizes = replace(sizes, drain_n=args.n, sleep_n=args.n)
    return sizes


def probe(system: System) -> dict[str, Any]:
    """Whether a system can run here, with its versions and settings."""
    info: dict[str, Any] = {"available": False, "notes": system.notes}
    if system.own_venv and system.install_failed.exists():
        info["reason"] = f"install failed: {system.install_failed.read_text().strip()}"
        return info
    if not system.available():
        info["reason"] = "no virtualenv (run `python -m benchmarks.setup`)"
        return info
    try:
        found = run_role(system, "probe", {"url": "", "extra": {"dists": system.dists}}, 60)
    except ChildFailed as exc:
        info["reason"] = str(exc)
        return info
    return {**info, **found, "available": True}


def redis_version() -> str:
    out = subprocess.run(
        [REDIS_SERVER, "--version"], capture_output=True, text=True, check=False
    ).stdout
    return next((w.split("=")[1] for w in out.split() if w.startswith("v=")), out.strip())


def run_pass(
    persistence: str,
    steps: list[Step],
    systems: dict[str, System],
    batch_api: dict[str, bool],
    sizes: Sizes,
    progress: Progress,
) -> PassResult:
    """Every step for every system, `repeats` times, against one fresh server."""
    result = PassResult(persistence, redis_version())
    with private_redis(persistence) as server, closing(Bench(server.url, sizes)) as bench:
        result.idle_cpu_us_per_s = 1e6 * bench.meter.measure_idle(sizes.redis_idle_s)
        runs = itertools.product(range(sizes.repeats), systems.items(), steps)
        for repeat, (name, system), step in runs:
            progress.step(f"{persistence} · {name} · {step.name} · {repeat + 1}/{sizes.repeats}")
            _measure(result, bench, system, step, batch_api[name])
            progress.done()
    result.derive()
    return result


def _measure(result: PassResult, bench: Bench, system: System, step: Step, has_batch: bool) -> None:
    if step.needs_batch and not has_batch:
        result.skipped.setdefault(system.name, {})[step.name] = "no batch-enqueue API"
        return
    if step.name in result.errors.get(system.name, {}):
        return  # failed before: do not spend the time again
    try:
        result.add(system.name, step.run(bench, system))
    except (ChildFailed, OSError) as exc:
        result.errors.setdefault(system.name, {})[step.name] = str(exc)[:300]
        say(f"{system.name} {step.name}: {exc}", "red")


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    sizes = sizes_from(args)
    wanted = [s.strip() for s in args.only.split(",") if s.strip()]
    unknown = set(wanted) - set(SYSTEMS)
    if unknown:
        say(f"unknown systems: {', '.join(sorted(unknown))}; choose from {', '.join(SYSTEMS)}")
        return 2
    if not Path(REDIS_SERVER).exists():
        say(f"{REDIS_SERVER} not found: install redis-server", "red")
        return 2
    exported, commit = source.export(args.ref) if args.ref else (None, None)
    try:
        return _run(args, sizes, wanted, source.describe(args.ref, commit))
    finally:
        if exported is not None:
            shutil.rmtree(exported, ignore_errors=True)


def _run(args: argparse.Namespace, sizes: Sizes, wanted: list[str], code: dict[str, Any]) -> int:
    started = datetime.now(UTC)
    load_at_start = [round(x, 2) for x in os.getloadavg()]
    infos = {name: probe(SYSTEMS[name]) for name in wanted}
    for name, info in infos.items():
        if not info["available"]:
            say(f"skipping {name}: {info['reason']}", "yellow")
    runnable = {n: SYSTEMS[n] for n in wanted if infos[n]["available"]}
    batch_api = {n: bool(infos[n].get("batch_api")) for n in runnable}
    passes_wanted = [("none", True)] + ([] if args.no_aof else [("aof-everysec", False)])
    plans = [(persistence, plan(sizes, full)) for persistence, full in passes_wanted]
    total = sum(len(steps) for _, steps in plans) * len(runnable) * sizes.repeats
    passes: list[PassResult] = []
    with Progress(total) as progress:
        for persistence, steps in plans:
            passes.append(run_pass(persistence, steps, runnable, batch_api, sizes, progress))
    finished = datetime.now(UTC)
    write_results(args, sizes, infos, passes, (started, finished), load_at_start, code)
    return 0 if any(p.samples for p in passes) else 1


def write_results(
    args: argparse.Namespace,
    sizes: Sizes,
    infos: dict[str, dict[str, Any]],
    passes: list[PassResult],
    period: tuple[datetime, datetime],
    load_at_start: list[float],
    code: dict[str, Any],
) -> None:
    started, finished = period
    metrics = metrics_for(sizes)
    mode = "quick" if args.quick else "full"
    meta: dict[str, Any] = {
        "mode": mode,
        "started": started.isoformat(timespec="seconds"),
        "finished": finished.isoformat(timespec="seconds"),
        "duration_s": round((finished - started).total_seconds(), 1),
        "command": shlex.join(["python", "-m", "benchmarks.run", *sys.argv[1:]]),
        "machine": {
            "cpus": os.cpu_count(),
            "platform": platform.platform(),
            "python": platform.python_version(),
            "redis_server": redis_version(),
            "load_average_at_start": load_at_start,
            "load_average_at_end": [round(x, 2) for x in os.getloadavg()],
        },
        "sizes": asdict(sizes),
        "source": code,
    }
    document = report.to_json(meta, infos, passes, metrics)
    args.out.mkdir(parents=True, exist_ok=True)
    stem = ("quick-" if args.quick else "") + started.strftime("%Y%m%d-%H%M%S")
    paths = {ext: args.out / f"{stem}.{ext}" for ext in ("json", "md", "png")}
    report.write_json(paths["json"], document)
    text = report.markdown(document, passes, metrics)
    paths["md"].write_text(text)
    try:
        chart.draw(
            passes[0],
            list(infos),
            paths["png"],
            f"{mode} run {meta['started']}, Redis without persistence, "
            f"{meta['machine']['cpus']} cores; median, whiskers min-max",
        )
    except ImportError:
        say("chart skipped: matplotlib is not installed (pip install -e '.[bench]')", "yellow")
        del paths["png"]
    latest = "quick-latest" if args.quick else "latest"
    for ext, path in paths.items():
        shutil.copyfile(path, args.out / f"{latest}.{ext}")
    print(text)
    say(f"results: {', '.join(str(p) for p in paths.values())}")


if __name__ == "__main__":
    started_at = time.monotonic()
    code = main()
    say(f"done in {time.monotonic() - started_at:.0f} s")
    sys.exit(code)
