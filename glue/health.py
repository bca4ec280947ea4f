"""Container health checks: one small probe per kind of service, run as `python -m glue.health`.

Owns the checks that `docker/Dockerfile.ingestor`'s HEALTHCHECK and `docker/compose.yaml` call. Each
probe does one real request (a TCP connect, an HTTP GET, a Kafka metadata request) or looks at a
heartbeat file, prints one line and exits 0 (healthy) or 1 (unhealthy). It imports only what the probe
needs, so a check costs a fraction of a second.

    python -m glue.health tcp 127.0.0.1:8765
    python -m glue.health http http://127.0.0.1:5000/health
    python -m glue.health kafka 127.0.0.1:9092
    python -m glue.health fresh data/raw 60        # newest file under data/raw changed in the last 60 s
    python -m glue.health process                  # PID 1 runs and is not a zombie (the image default)
    python -m glue.health uptime 20                # the container's main process has run 20 s (no crash loop)
"""

from __future__ import annotations

import os
import socket
import sys
import time
import urllib.request
from pathlib import Path


def check_tcp(address: str, timeout_s: float = 3.0) -> str:
    """Connect to `host:port`; raise OSError if nothing accepts."""
    host, _, port = address.rpartition(":")
    with socket.create_connection((host or "127.0.0.1", int(port)), timeout=timeout_s):
        return f"tcp {address} accepts connections"


def check_http(url: str, timeout_s: float = 3.0) -> str:
    """GET `url`; raise on a non-2xx answer or no answer."""
    with urllib.request.urlopen(url, timeout=timeout_s) as response:
        if not 200 <= response.status < 300:
            raise OSError(f"{url} answered {response.status}")
        return f"http {url} answered {response.status}"


def check_kafka(bootstrap: str, timeout_s: float = 5.0) -> str:
    """A real metadata request to the broker (an open port alone may still be settling)."""
    from confluent_kafka.admin import AdminClient

    admin = AdminClient({"bootstrap.servers": bootstrap, "socket.timeout.ms": int(timeout_s * 1000)})
    metadata = admin.list_topics(timeout=timeout_s)
    return f"kafka {bootstrap} answered: {len(metadata.brokers)} broker(s), {len(metadata.topics)} topic(s)"


def check_fresh(path: str, max_age_s: float) -> str:
    """The newest file at or under `path` changed within `max_age_s` (a service's heartbeat)."""
    root = Path(path)
    files = [root] if root.is_file() else [p for p in root.rglob("*") if p.is_file()]
    if not files:
        raise OSError(f"nothing under {path} yet")
    age_s = time.time() - max(p.stat().st_mtime for p in files)
    if age_s > max_age_s:
        raise OSError(f"{path} last changed {age_s:.0f} s ago (limit {max_age_s:.0f} s)")
    return f"{path} changed {age_s:.1f} s ago"


def check_process(pid: int = 1) -> str:
    """The container's main process exists and is not a zombie."""
    status = Path(f"/proc/{pid}/status").read_text()
    state = next((line.split()[1] for line in status.splitlines() if line.startswith("State:")), "?")
    if state == "Z":
        raise OSError(f"process {pid} is a zombie")
    return f"process {pid} state {state}"


def check_uptime(min_s: float, pid: int = 1) -> str:
    """The main process has been running at least `min_s`: a crash-looping service is not healthy."""
    ticks_per_s = os.sysconf("SC_CLK_TCK")
    started_ticks = int(Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[19])
    boot_s = float(Path("/proc/uptime").read_text().split()[0])
    age_s = boot_s - started_ticks / ticks_per_s
    if age_s < min_s:
        raise OSError(f"process {pid} started {age_s:.0f} s ago (needs {min_s:.0f} s without a restart)")
    return f"process {pid} up {age_s:.0f} s"


PROBES = ("tcp", "http", "kafka", "fresh", "process", "uptime")


def run(argv: list[str]) -> int:
    """Run one probe from command-line words; return the exit code."""
    kind, *args = argv or ["process"]
    probes = {
        "tcp": lambda: check_tcp(args[0]),
        "http": lambda: check_http(args[0]),
        "kafka": lambda: check_kafka(args[0]),
        "fresh": lambda: check_fresh(args[0], float(args[1])),
        "process": lambda: check_process(),
        "uptime": lambda: check_uptime(float(args[0])),
    }
    assert set(probes) == set(PROBES)
    if kind not in probes:
        print(f"unhealthy: unknown check {kind!r}; use one of {', '.join(probes)}")
        return 2
    try:
        print(f"healthy: {probes[kind]()}")
        return 0
    except Exception as exc:  # any failure of the probe means unhealthy, with its reason on one line
        print(f"unhealthy: {kind} {' '.join(args)}: {exc}")
        return 1


if __name__ == "__main__":
    sys.exit(run(sys.argv[1:]))
