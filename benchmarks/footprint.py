"""What a worker process costs before it holds a job: resident memory and import time of
each layer it imports, in dependency order.

    python -m benchmarks.footprint [--repeats 5] [--out benchmarks/results]

Each repeat is a fresh interpreter that imports one layer after the other and reads its
own `VmRSS` and CPU time after each. A layer's figure is what it adds on top of the ones
before it (shared dependencies count where they are first imported). The last rows are
what `streamq worker` adds: streamq itself, then the worker and the command line.
Prints a table of medians (min-max) and writes `footprint-<stamp>.json`.
"""

from __future__ import annotations

import argparse
import subprocess
import sys
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import orjson

from benchmarks.stats import Summary, summarize

ROOT = Path(__file__).resolve().parents[1]

LAYERS: tuple[tuple[str, tuple[str, ...]], ...] = (
    ("asyncio (and ssl, which it loads)", ("asyncio", "ssl")),
    ("anyio", ("anyio",)),
    ("orjson", ("orjson",)),
    ("pydantic", ("pydantic", "pydantic.main", "pydantic.fields")),
    ("pydantic-settings", ("pydantic_settings",)),
    ("redis.asyncio + hiredis", ("redis.asyncio", "hiredis")),
    ("prometheus_client", ("prometheus_client",)),
    ("click", ("click",)),
    ("streamq (App, models, store)", ("streamq",)),
    ("streamq worker + command line", ("streamq.worker", "streamq.cli")),
)

CHILD = """
import sys, time, json
def rss():
    for line in open('/proc/self/status'):
        if line.startswith('VmRSS'):
            return int(line.split()[1]) / 1024
rows = [["interpreter", rss(), 0.0]]
for label, modules in json.loads(sys.argv[1]):
    t = time.process_time()
    for m in modules:
        __import__(m)
    rows.append([label, rss(), (time.process_time() - t) * 1000])
otel = sorted(m for m in sys.modules if m.startswith("opentelemetry"))
print(json.dumps({"rows": rows, "modules": len(sys.modules), "opentelemetry": len(otel)}))
"""


def one_run() -> dict[str, Any]:
    done = subprocess.run(
        [sys.executable, "-c", CHILD, orjson.dumps(LAYERS).decode()],
        capture_output=True, text=True, check=True, cwd=ROOT,
    )
    result: dict[str, Any] = orjson.loads(done.stdout.strip().splitlines()[-1])
    return result


def _median(summary: Summary | None) -> float:
    return summary.median if summary else float("nan")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeats", type=int, default=5)
    parser.add_argument("--out", type=Path, default=ROOT / "benchmarks" / "results")
    args = parser.parse_args()
    runs = [one_run()["rows"] for _ in range(args.repeats)]
    last = one_run()
    table: list[dict[str, Any]] = []
    for i, (label, _, _) in enumerate(runs[0]):
        added = [rows[i][1] - (rows[i - 1][1] if i else 0.0) for rows in runs]
        table.append({
            "layer": label,
            "rss_added_mib": summarize(added),
            "rss_total_mib": summarize([rows[i][1] for rows in runs]),
            "import_cpu_ms": summarize([rows[i][2] for rows in runs]),
        })
    print(f"{'layer':36s} {'RSS added, MiB':>16s} {'total, MiB':>11s} {'import CPU, ms':>15s}")
    for row in table:
        rss_added, total, cpu = (_median(row[k]) for k in
                             ("rss_added_mib", "rss_total_mib", "import_cpu_ms"))
        print(f"{row['layer']:36s} {rss_added:16.1f} {total:11.1f} {cpu:15.0f}")
    print(f"modules loaded: {last['modules']}, of which OpenTelemetry (imported by "
          f"redis-py when the SDK is installed): {last['opentelemetry']}")
    args.out.mkdir(parents=True, exist_ok=True)
    stamp = datetime.now(UTC).strftime("%Y%m%d-%H%M%S")
    path = args.out / f"footprint-{stamp}.json"
    path.write_bytes(orjson.dumps(
        {"repeats": args.repeats, "python": sys.version.split()[0], "layers": table,
         "modules": last["modules"], "opentelemetry_modules": last["opentelemetry"]},
        option=orjson.OPT_INDENT_2))
    print(f"results: {path}")


if __name__ == "__main__":
    main()
