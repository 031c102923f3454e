"""Which streamq is measured: the work tree, or a commit exported to a temp dir.

Other people edit the work tree while benchmarks run; `--ref HEAD` measures the
committed code instead, and the results name the commit either way.
"""

from __future__ import annotations

import io
import subprocess
import tarfile
import tempfile
from pathlib import Path
from typing import Any

from .children import REPO, use_source


def _git(*args: str) -> str:
    done = subprocess.run(["git", *args], cwd=REPO, capture_output=True, text=True, check=False)
    return done.stdout.strip() if done.returncode == 0 else ""


def export(ref: str) -> tuple[Path, str]:
    """`streamq/` at `ref` in a fresh temp dir beside a link to these benchmarks; the
    children run from there. Returns the dir and the commit, resolved once, since the
    branch may move while the run lasts."""
    commit = _git("rev-parse", "--verify", f"{ref}^{{commit}}")
    if not commit:
        raise ValueError(f"not a git commit: {ref}")
    root = Path(tempfile.mkdtemp(prefix="streamq-bench-src-"))
    archive = subprocess.run(
        ["git", "archive", "--format=tar", commit, "streamq"],
        cwd=REPO,
        capture_output=True,
        check=True,
    ).stdout
    with tarfile.open(fileobj=io.BytesIO(archive)) as tar:
        tar.extractall(root, filter="data")
    (root / "benchmarks").symlink_to(REPO / "benchmarks")
    use_source(root)
    return root, commit


def describe(ref: str | None, commit: str | None) -> dict[str, Any]:
    """The measured code: commit, and whether streamq/ had uncommitted edits."""
    if ref:
        return {"streamq_source": f"git {ref}", "commit": commit}
    commit = _git("rev-parse", "HEAD")
    dirty = bool(_git("status", "--porcelain", "--", "streamq"))
    return {"streamq_source": "work tree", "commit": commit, "streamq_uncommitted_edits": dirty}
