"""What OpenTelemetry tracing costs a worker and a producer, per job: the code before
tracing existed, tracing off, and tracing on (an SDK provider, a batch processor, an
exporter that drops spans).

    python -m benchmarks.tracing [--jobs 5000] [--repeats 9] [--before REF]

Each repeat runs, per variant and in turn (so that a busy machine weighs on all three
alike), a fresh process that enqueues N no-op jobs in batches of 100 (CPU of the enqueue
calls), then a fresh process whose burst node drains them (CPU of `Node.run`), on a
private redis-server emptied between runs. The table shows medians of the repeats with
min-max, and the medians of the ratios within each repeat; results/tracing-<stamp>.json
keeps every sample. On a shared machine, run it under the lock the test suites take.
"""

from __future__ import annotations

import argparse
import json
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

import redis

from streamq.devredis import RedisServer

from .source import export
from .stats import summarize

REPO = Path(__file__).resolve().parent.parent
RESULTS = REPO / "benchmarks" / "results"
ROLES = ("enqueue", "drain")


def run_child(source: Path, role: str, url: str, n: int, traced: bool) -> dict[str, Any]:
    env = {"PATH": "/usr/bin:/bin", "PYTHONPATH": str(source)}
    argv = [sys.executable, "-m", "benchmarks.tracing_child", role, url, str(n), str(int(traced))]
    done = subprocess.run(
        argv, cwd=source, env=env, capture_output=True, text=True, timeout=600, check=False,
    )
    if done.returncode != 0:
        raise RuntimeError(f"{role} failed: {done.stderr[-2000:]}")
    result: dict[str, Any] = json.loads(done.stdout.strip().splitlines()[-1])
    return result


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--jobs", type=int, default=5000)
    parser.add_argument("--repeats", type=int, default=9)
    parser.add_argument("--before", default="main",
                        help="a commit without tracing (default: main)")
    args = parser.parse_args()
    before_dir, before_commit = export(args.before)
    variants = {"before": (before_dir, False), "off": (REPO, False), "on": (REPO, True)}
    samples: dict[str, dict[str, list[float]]] = {v: {r: [] for r in ROLES} for v in variants}
    checks: dict[str, dict[str, Any]] = {}
    data_dir = Path(tempfile.mkdtemp(prefix="streamq-bench-tracing-"))
    try:
        with RedisServer(data_dir=data_dir, appendonly=False) as server:
            for repeat in range(args.repeats):
                for variant, (source, traced) in variants.items():
                    with redis.Redis.from_url(server.url) as r:
                        r.flushall()
                    for role in ROLES:
                        out = run_child(source, role, server.url, args.jobs, traced)
                        samples[variant][role].append(out["cpu_s"] / args.jobs * 1e6)
                        checks[f"{variant}/{role}"] = {"spans": out["spans"],
                                                       "tracing_modules": out["tracing_modules"]}
                print(f"repeat {repeat + 1}/{args.repeats} done", file=sys.stderr, flush=True)
    finally:
        shutil.rmtree(data_dir, ignore_errors=True)
        shutil.rmtree(before_dir, ignore_errors=True)
    report(samples, checks, args, before_commit)


def report(samples: dict[str, dict[str, list[float]]], checks: dict[str, Any],
           args: argparse.Namespace, before_commit: str) -> None:
    medians = {v: {r: summarize(s) for r, s in roles.items()} for v, roles in samples.items()}
    print(f"\nCPU per job, µs (median of {args.repeats}, min-max), {args.jobs} jobs per run")
    print(f"{'variant':<10}" + "".join(f"{role:>26}" for role in ROLES))
    for variant, roles in medians.items():
        cells = []
        for role in ROLES:
            m = roles[role]
            cells.append(f"{m.median:9.1f} ({m.low:6.1f}-{m.high:6.1f})" if m else "-")
        print(f"{variant:<10}" + "".join(f"{c:>26}" for c in cells))
    paired = {role: {"off/before": _paired(samples["off"][role], samples["before"][role]),
                     "on/off": _paired(samples["on"][role], samples["off"][role])}
              for role in ROLES}
    for role, ratios in paired.items():
        print(f"{role}: off vs before {100 * (ratios['off/before'] - 1):+.1f} %, "
              f"on vs off {100 * (ratios['on/off'] - 1):+.1f} % "
              "(medians of the ratios within each repeat)")
    for name, check in checks.items():
        print(f"{name}: {check['spans']} spans exported, tracing modules loaded: "
              f"{check['tracing_modules'] or 'none'}")
    stamp = time.strftime("%Y%m%d-%H%M%S")
    RESULTS.mkdir(parents=True, exist_ok=True)
    body = {
        "benchmark": "tracing", "jobs": args.jobs, "repeats": args.repeats,
        "before": {"ref": args.before, "commit": before_commit},
        "unit": "CPU microseconds per job (process_time of the measured calls)",
        "samples": samples,
        "medians": {v: {r: (m.median if m else None) for r, m in roles.items()}
                    for v, roles in medians.items()},
        "paired_ratios": paired,
        "checks": checks,
    }
    for name in (f"tracing-{stamp}.json", "tracing-latest.json"):
        (RESULTS / name).write_text(json.dumps(body, indent=2) + "\n")
    print(f"wrote {RESULTS / f'tracing-{stamp}.json'}")


def _paired(a: list[float], b: list[float]) -> float:
    """Median of a/b within each repeat: both ran back to back, under the same load."""
    return statistics.median(x / y for x, y in zip(a, b, strict=True))


if __name__ == "__main__":
    main()
