"""Error fingerprints: failures of the same kind share one, whatever their varying parts."""

from __future__ import annotations

import hashlib
import re

_MASKS = [
    (re.compile(r"'[^']*'|\"[^\"]*\""), "<str>"),
    (re.compile(r"\b[0-9a-fA-F]{8}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{12}\b"),
     "<uuid>"),
    (re.compile(r"\b0x[0-9a-fA-F]+\b|\b(?=[0-9a-fA-F]*\d)[0-9a-fA-F]{8,}\b"), "<hex>"),
    (re.compile(r"\d+(\.\d+)?"), "<n>"),
]


def error_fingerprint(error_type: str, error: str) -> str:
    """A short stable hash of an error's kind: its type and its message with the varying
    parts (quoted values, uuids, hex ids, numbers) masked."""
    message = error.strip()[:500]
    for pattern, mask in _MASKS:
        message = pattern.sub(mask, message)
    digest = hashlib.blake2b(f"{error_type}\n{message}".encode(), digest_size=8)
    return digest.hexdigest()
