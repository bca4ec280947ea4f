"""Session fixtures shared by every test.

`kafka_bootstrap` starts the project's real local Kafka broker (`docker/local-kafka`) once per
pytest run, on free loopback ports with a temporary home, and stops it at the end (also when tests
fail or the run is interrupted). It FAILS, never skips, when the broker cannot start. Set
`TEST_KAFKA_BOOTSTRAP=127.0.0.1:9092` to use an already running broker instead (dev convenience).

Fresh names per test: `from glue.testing.names import unique_name` or the `unique_name` fixture.
"""

from __future__ import annotations

import os
import signal
import subprocess
import sys
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest

from glue.net import free_port
from glue.testing.names import unique_name as _unique_name

REPO_ROOT = Path(__file__).resolve().parent.parent
LOCAL_KAFKA = REPO_ROOT / "docker" / "local-kafka"


@pytest.fixture(scope="session")
def repo_root() -> Path:
    return REPO_ROOT


@pytest.fixture
def unique_name() -> Callable[[str], str]:
    """`unique_name("ticks")` -> `ticks-3f9c0a1b2d`: a fresh topic or group name."""
    return _unique_name


def _broker(command: str, home: Path, *args: str, timeout_s: float = 600) -> subprocess.CompletedProcess:
    return subprocess.run(
        [str(LOCAL_KAFKA), command, "--home", str(home), *args],
        capture_output=True,
        text=True,
        timeout=timeout_s,
        check=False,
    )


@pytest.fixture(scope="session")
def kafka_bootstrap(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    """`127.0.0.1:<port>` of a real Kafka broker for this test run."""
    from glue.errors import KafkaUnavailable
    from glue.kafka import wait_until_ready

    external = os.environ.get("TEST_KAFKA_BOOTSTRAP")
    if external:
        try:
            wait_until_ready(external, 30)
        except KafkaUnavailable as exc:
            pytest.fail(f"TEST_KAFKA_BOOTSTRAP={external}: {exc}", pytrace=False)
        yield external
        return

    home = tmp_path_factory.mktemp("kafka-home")
    result = None
    for _attempt in range(3):  # a picked port can be taken by someone else before the JVM binds it
        port, controller_port = free_port(), free_port()
        if port == controller_port:
            continue
        result = _broker(
            "up", home, "--port", str(port), "--controller-port", str(controller_port),
            "--heap", "512m", "--timeout", "180", "--python", sys.executable,
            "--stop-with", str(os.getpid()),  # no broker left behind even if pytest is killed hard
        )
        if result.returncode == 0 or "in use" not in result.stderr:
            break
    if result is None or result.returncode != 0:
        _broker("down", home, timeout_s=60)
        detail = (result.stderr or result.stdout).strip() if result else "no free ports"
        pytest.fail(f"the local Kafka broker (docker/local-kafka) did not start:\n{detail}", pytrace=False)

    previous = signal.getsignal(signal.SIGTERM)

    def _stop_on_sigterm(signum: int, frame: object) -> None:
        # pytest runs no teardown on SIGTERM: stop the broker, then die as asked.
        _broker("down", home, timeout_s=60)
        signal.signal(signal.SIGTERM, previous if callable(previous) else signal.SIG_DFL)
        os.kill(os.getpid(), signal.SIGTERM)

    signal.signal(signal.SIGTERM, _stop_on_sigterm)
    try:
        yield f"127.0.0.1:{port}"
    finally:
        signal.signal(signal.SIGTERM, previous)
        _broker("down", home, timeout_s=60)
