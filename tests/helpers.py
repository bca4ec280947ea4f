"""Small helpers shared by tests: fresh names and free loopback ports."""

from __future__ import annotations

import uuid

from glue.net import free_port

__all__ = ["free_port", "unique_name"]


def unique_name(prefix: str) -> str:
    """A fresh topic / consumer-group / file name: `<prefix>-<10 hex chars>`."""
    return f"{prefix}-{uuid.uuid4().hex[:10]}"

