"""`python -m benchmarks.setup`: one virtualenv per peer under `benchmarks/.venvs/`.

Run once before `python -m benchmarks.run`, which installs nothing while it measures.
A peer that fails to install is reported and left out; the run records why.
"""

from __future__ import annotations

import argparse
import shutil
import subprocess
import sys
import venv

from .peers import PEERS, SYSTEMS, VENVS_DIR, System


def install(system: System, fresh: bool) -> str | None:
    """Create (or refresh) one peer's venv; returns an error message, or None."""
    if fresh and system.venv.exists():
        shutil.rmtree(system.venv)
    if not system.python.exists():
        venv.EnvBuilder(with_pip=True, clear=True).create(system.venv)
    pip = [str(system.python), "-m", "pip", "install", "--disable-pip-version-check", "-q"]
    result = subprocess.run(
        [*pip, *system.requirements], capture_output=True, text=True, check=False
    )
    if result.returncode != 0:
        return (result.stderr or result.stdout).strip().splitlines()[-1]
    return None


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("peers", nargs="*", default=list(PEERS), help="peers to set up")
    parser.add_argument("--fresh", action="store_true", help="delete existing venvs first")
    args = parser.parse_args(argv)
    VENVS_DIR.mkdir(parents=True, exist_ok=True)
    failed = 0
    for name in args.peers:
        system = SYSTEMS[name]
        print(f"{name}: installing {' '.join(system.requirements)}", flush=True)
        error = install(system, args.fresh)
        if error:
            failed += 1
            system.install_failed.write_text(error + "\n")
            print(f"{name}: FAILED: {error}", flush=True)
        else:
            system.install_failed.unlink(missing_ok=True)
            print(f"{name}: ok ({system.python})", flush=True)
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
