"""Small helpers shared by tests: fresh names and free loopback ports."""

from __future__ import annotations

import socket
import uuid


def unique_name(prefix: str) -> str:
    """A fresh topic / consumer-group / file name: `<prefix>-<10 hex chars>`."""
    return f"{prefix}-{uuid.uuid4().hex[:10]}"


def free_port() -> int:
    """A TCP port on 127.0.0.1 that was free a moment ago (bind to port 0, read it back)."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]
