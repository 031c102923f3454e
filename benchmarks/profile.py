"""`python -m benchmarks.profile`: where a streamq worker or producer spends its time.

Samples one process with py-spy (`pip install py-spy`; not part of the bench extra)
while it drains N pre-enqueued no-op jobs, or while it enqueues N jobs, against a
private redis-server, then prints the functions with the most samples: by self time,
and inclusive, aggregated per function. The raw collapsed stacks are kept for
flame-graph tools.
"""

from __future__ import annotations

import argparse
import shutil
import signal
import subprocess
import sys
import tempfile
import time
from collections import Counter
from pathlib import Path

from .children import REPO, Workers, child_command, child_env, run_role
from .peers import SYSTEMS
from .redis_server import private_redis


def collapse(raw: str) -> tuple[Counter[str], Counter[str], int]:
    """Self and inclusive sample counts per function from py-spy's raw format."""
    own: Counter[str] = Counter()
    inclusive: Counter[str] = Counter()
    total = 0
    for line in raw.splitlines():
        stack, _, count = line.rpartition(" ")
        if not stack or not count.isdigit():
            continue
        n = int(count)
        total += n
        frames = [_function(f) for f in stack.split(";")]
        own[frames[-1]] += n
        for frame in set(frames):
            inclusive[frame] += n
    return own, inclusive, total


def _function(frame: str) -> str:
    """`name (path/to/module.py:123)` -> `name (module.py)`: lines merged per function."""
    name, _, where = frame.partition(" (")
    path = where.rstrip(")").rsplit(":", 1)[0]
    parts = Path(path).parts
    short = "/".join(parts[-2:]) if len(parts) > 1 else path
    return f"{name} ({short})"


def print_top(raw: str, limit: int) -> None:
    own, inclusive, total = collapse(raw)
    for title, counts in (("self", own), ("inclusive", inclusive)):
        print(f"\n{title} time, top {limit} of {total} samples:")
        for name, n in counts.most_common(limit):
            print(f"  {100 * n / total:5.1f}%  {name}")


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m benchmarks.profile", description=__doc__)
    parser.add_argument("workload", choices=["drain", "enqueue-batch", "enqueue-single"])
    parser.add_argument("--system", default="streamq")
    parser.add_argument("--n", type=int, default=50_000)
    parser.add_argument("--rate", type=int, default=200, help="py-spy samples per second")
    parser.add_argument("--top", type=int, default=25)
    parser.add_argument("--out", type=Path, default=Path(tempfile.gettempdir()) / "streamq.prof")
    args = parser.parse_args(argv)
    spy = shutil.which("py-spy") or str(Path(sys.executable).parent / "py-spy")
    if not Path(spy).exists():
        print("py-spy is not installed: pip install py-spy")
        return 2
    system = SYSTEMS[args.system]
    with private_redis() as server, tempfile.TemporaryDirectory() as tmp:
        cfg = {"url": server.url, "n": args.n, "concurrency": 100}
        record = [
            spy,
            "record",
            "--format",
            "raw",
            "--rate",
            str(args.rate),
            "--output",
            str(args.out),
            "--nonblocking",
        ]
        if args.workload == "drain":
            run_role(system, "fill", cfg, timeout_s=600)
            with Workers(system, cfg, 1, Path(tmp)) as workers:
                workers.start()
                spying = subprocess.Popen(
                    [*record, "--pid", str(workers.procs[0].pid)],
                    stdout=subprocess.DEVNULL,
                    stderr=subprocess.DEVNULL,
                )
                started = time.monotonic()
                workers.wait_for(args.n, timeout_s=600)
                print(
                    f"drained {args.n} jobs in {time.monotonic() - started:.2f} s "
                    "(sampling slows the worker a little)"
                )
                spying.send_signal(signal.SIGINT)
                spying.wait()
        else:
            mode = args.workload.split("-")[1]
            command = child_command(system, "enqueue", {**cfg, "mode": mode})
            done = subprocess.run(
                [*record, "--", *command],
                cwd=REPO,
                env=child_env(),
                capture_output=True,
                text=True,
                check=False,
            )
            print(done.stdout.strip().splitlines()[-1] if done.stdout else done.stderr[-500:])
    print_top(args.out.read_text(), args.top)
    print(f"\ncollapsed stacks: {args.out}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
