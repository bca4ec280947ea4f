"""Fresh names for tests and benchmarks: topics, consumer groups, files (free ports are glue.net.free_port)."""

from __future__ import annotations

import uuid


def unique_name(prefix: str) -> str:
    """A fresh topic / consumer-group / file name: `<prefix>-<10 hex chars>`."""
    return f"{prefix}-{uuid.uuid4().hex[:10]}"

