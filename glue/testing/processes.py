"""Project commands as child processes for tests: `glue exchange` on a free port, the throttling proxy.

`LOCAL_KAFKA` is the broker script (docker/local-kafka) for tests that run a broker of their own.

`child_env()` is the environment a child gets (the test run's GLUE_* variables are not its settings);
`glue_exchange(...)` and `throttle_proxy(...)` are context managers that start the process, wait until it
listens, yield its port and stop it (SIGTERM, then SIGKILL after 20 s).
"""

from __future__ import annotations

import os
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

from glue.net import free_port

REPO = Path(__file__).resolve().parents[2]
LOCAL_KAFKA = REPO / "docker" / "local-kafka"  # the project's no-Docker broker script


def child_env() -> dict[str, str]:
    """This environment without GLUE_* variables (settings come from flags only), unbuffered output."""
    return {k: v for k, v in os.environ.items() if not k.startswith("GLUE_")} | {"PYTHONUNBUFFERED": "1"}


def wait_port(port: int, timeout_s: float = 30.0) -> None:
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        with socket.socket() as sock:
            if sock.connect_ex(("127.0.0.1", port)) == 0:
                return
        time.sleep(0.1)
    raise AssertionError(f"nothing listens on {port}")


def cpu_seconds(pid: int) -> float:
    """User + system CPU seconds of a running process (from /proc); NaN once it is gone."""
    try:
        fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
        return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")
    except (OSError, IndexError, ValueError):
        return float("nan")


def start_broker(home: Path, heap: str = "512m", timeout_s: int = 120) -> str:
    """A broker of its own (docker/local-kafka) on free loopback ports, home `home`; returns its bootstrap."""
    port, controller = free_port(), free_port()
    subprocess.run([str(LOCAL_KAFKA), "up", "--port", str(port), "--controller-port", str(controller),
                    "--home", str(home), "--heap", heap, "--timeout", str(timeout_s)],
                   check=True, capture_output=True, text=True)
    return f"127.0.0.1:{port}"


def stop_broker(home: Path) -> None:
    subprocess.run([str(LOCAL_KAFKA), "down", "--home", str(home)], capture_output=True, check=False)


def stop(proc: subprocess.Popen) -> None:
    if proc.poll() is None:
        proc.terminate()
        try:
            proc.wait(20)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait(10)


@contextmanager
def glue_exchange(*args: str) -> Iterator[int]:
    """`glue exchange` as a process on a free port; yields the port."""
    port = free_port()
    proc = subprocess.Popen([sys.executable, "-m", "glue", "exchange", "--port", str(port), *args], cwd=REPO,
                            env=child_env(), stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    try:
        wait_port(port)
        yield port
    finally:
        stop(proc)


@contextmanager
def throttle_proxy(target_port: int, rate_bps: int) -> Iterator[int]:
    """glue/testing/throttle.py as a process in front of 127.0.0.1:target_port; yields its port."""
    proc = subprocess.Popen([sys.executable, "-m", "glue.testing.throttle", str(target_port), str(rate_bps)],
                            cwd=REPO, env=child_env(), stdout=subprocess.PIPE, text=True)
    try:
        assert proc.stdout is not None
        line = proc.stdout.readline()
        assert line.startswith("port "), line
        yield int(line.split()[1])
    finally:
        stop(proc)
