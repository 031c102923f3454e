"""The job history archive in PostgreSQL (extra `streamq[postgres]`).

Importing this package loads no driver: asyncpg is imported when the archive first
connects. `HistoryArchive` (the database), `history_page` (a search page) and the query
models are what App, the API, the CLI and the console use.
"""

from __future__ import annotations

from .archive import HistoryArchive
from .ops import get_job, history_page
from .query import HistoryFilter, HistoryPage, PayloadMatch, build_filter

__all__ = [
    "HistoryArchive",
    "HistoryFilter",
    "HistoryPage",
    "PayloadMatch",
    "build_filter",
    "get_job",
    "history_page",
]
