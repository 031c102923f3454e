"""`python -m benchmarks.lua_calls`: what a command costs Redis when a script sends it.

Each row is one script that sends a command 1,000 times (or builds Lua values as streamq's
scripts do, without a command; or passes the same value as a Lua number and as a string,
which is why the scripts send numbers as strings), called 20 times per repeat on a private
redis-server. It reports, per command sent: the Redis CPU (`INFO cpu`), the script call's
time and the command's own time (`INFO commandstats` counts both the call and the commands
it sends), so the difference is what Lua and the conversion of arguments and replies add.

    python -m benchmarks.lua_calls               # 5 repeats, medians
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import redis

from .children import REPO
from .redis_server import private_redis

LOOP = 1000
CALLS = 20
EVENT = ("'job', 'job-00000001', 'from', 'queued', 'to', 'processing', 'attempt', 1, "
         "'time', 1700000000000, 'worker', 'w1'")
SCRIPTS: dict[str, str] = {
    "PING": "redis.call('PING')",
    "HGET, 1 field": "redis.call('HGET', KEYS[1], 'f1')",
    "HMGET, 11 fields": "redis.call('HMGET', KEYS[1], 'f0', 'f1', 'f2', 'f3', 'f4', 'f5', "
                        "'f6', 'f7', 'f8', 'f9', 'f10')",
    "HSET, 6 fields": "redis.call('HSET', KEYS[1], 'f0', 'a', 'f1', 'b', 'f2', 'c', 'f3', "
                      "'d', 'f4', 'e', 'f5', 'f')",
    "XADD, an event (6 fields, MAXLEN ~)": f"redis.call('XADD', KEYS[2], 'MAXLEN', '~', "
                                           f"10000, '*', {EVENT})",
    "HSET, a millisecond timestamp passed as a Lua number": (
        "redis.call('HSET', KEYS[1], 'f0', 1700000000000 + i)"),
    "HSET, the same timestamp passed as a string": "redis.call('HSET', KEYS[1], 'f0', T)",
    "HSET, a small integer passed as a Lua number": "redis.call('HSET', KEYS[1], 'f0', 1)",
    "no command: an event's argument table": f"local t = {{{EVENT}}}",
    "no command: a 100-byte payload cut into pieces and joined": (
        "local t = {} for j = 0, 1 do t[#t + 1] = string.sub(P, j * 64 + 1, (j + 1) * 64) "
        "end local x = table.concat(t)"
    ),
}


def measure(client: Any, body: str) -> dict[str, float]:
    sha = client.script_load(
        f"local P, T = string.rep('x', 100), '1700000000000' "
        f"for i = 1, {LOOP} do {body} end"
    )
    client.config_resetstat()
    cpu0 = _cpu(client)
    for _ in range(CALLS):
        client.evalsha(sha, 2, "record", "events")
    cpu = _cpu(client) - cpu0
    stats = client.info("commandstats")
    script = stats.get("cmdstat_evalsha", {}).get("usec", 0)
    inside = sum(v["usec"] for k, v in stats.items()
                 if k not in ("cmdstat_evalsha", "cmdstat_info", "cmdstat_config|resetstat"))
    ops = LOOP * CALLS
    return {"cpu_us": 1e6 * cpu / ops, "script_us": script / ops, "command_us": inside / ops}


def _cpu(client: Any) -> float:
    info = client.info("cpu")
    return float(info["used_cpu_user"]) + float(info["used_cpu_sys"])


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(prog="python -m benchmarks.lua_calls", description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--repeats", type=int, default=5)
    parser.add_argument("--out", type=Path, default=REPO / "benchmarks" / "results")
    args = parser.parse_args(argv)
    samples: dict[str, list[dict[str, float]]] = {name: [] for name in SCRIPTS}
    with private_redis() as server:
        client = redis.Redis.from_url(server.url)
        client.hset("record", mapping={f"f{i}": "v" * 20 for i in range(14)})
        for _ in range(args.repeats):
            for name, body in SCRIPTS.items():
                client.delete("events")
                samples[name].append(measure(client, body))
        client.close()
    results = {
        name: {m: statistics.median(s[m] for s in runs) for m in runs[0]}
        for name, runs in samples.items()
    }
    rows = ["| per command sent from a script | Redis CPU, µs | script's time, µs | "
            "the command's own time, µs | added by the script, µs |", "|---|---|---|---|---|"]
    for name, r in results.items():
        rows.append(f"| {name} | {r['cpu_us']:.2f} | {r['script_us']:.2f} | "
                    f"{r['command_us']:.2f} | {r['script_us'] - r['command_us']:.2f} |")
    print("\n".join(rows))
    args.out.mkdir(parents=True, exist_ok=True)
    stamp = datetime.now(UTC).strftime("%Y%m%d-%H%M%S")
    path = args.out / f"lua-calls-{stamp}.json"
    path.write_text(json.dumps({"benchmark": "lua_calls", "started": stamp,
                                "repeats": args.repeats, "loop": LOOP, "calls": CALLS,
                                "machine": {"cpus": os.cpu_count(),
                                            "load_1m": os.getloadavg()[0]},
                                "results": results}, indent=2))
    print(f"\nwritten to {path}")


if __name__ == "__main__":
    main()
