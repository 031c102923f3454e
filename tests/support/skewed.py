"""`python -m tests.support.skewed ARGS`: the `streamq` command with its wall clock moved by
`STREAMQTEST_SKEW_S` seconds, for machines without libfaketime (which the clock scenario
prefers: it moves every clock call of the process, C code included)."""

from __future__ import annotations

import os
import time

skew_s = float(os.environ.get("STREAMQTEST_SKEW_S", "0"))
_time, _time_ns = time.time, time.time_ns
time.time = lambda: _time() + skew_s
time.time_ns = lambda: _time_ns() + int(skew_s * 1e9)

from streamq.cli import main  # noqa: E402 - the clock is moved before streamq is imported

main()
