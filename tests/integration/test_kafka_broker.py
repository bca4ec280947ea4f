"""docker/local-kafka (a real broker on a temp home) and glue.kafka against the real broker."""

from __future__ import annotations

import hashlib
import json
import os
import subprocess
import sys
import time
from pathlib import Path

import pytest

from glue.config import KafkaSettings
from glue.errors import KafkaUnavailable
from glue.kafka import DeadLetter, consumer_config, ensure_topics, producer_config, wait_until_ready
from glue.net import free_port

SCRIPT = Path(__file__).resolve().parents[2] / "docker" / "local-kafka"


def _alive(pid: int) -> bool:
    """Running and not a zombie (a re-parented broker may stay a zombie until init reaps it)."""
    try:
        with open(f"/proc/{pid}/stat") as fh:
            return fh.read().rsplit(")", 1)[1].split()[0] not in ("Z", "X")
    except FileNotFoundError:
        return False


def _run(*args: str, env: dict | None = None, timeout: float = 300) -> subprocess.CompletedProcess:
    return subprocess.run([str(SCRIPT), *args], capture_output=True, text=True, timeout=timeout, env=env,
                          check=False)


def test_help_and_usage_errors():
    res = _run("--help")
    assert res.returncode == 0 and "up|down|status" in res.stdout and "Example:" in res.stdout
    bad = _run("start")
    assert bad.returncode != 0 and bad.stderr.strip().startswith("error: unknown command 'start'")
    assert len(bad.stderr.strip().splitlines()) == 1
    bad_port = _run("up", "--port", "x")
    assert bad_port.returncode != 0 and "--port must be a number" in bad_port.stderr


def test_status_and_down_on_a_fresh_home(tmp_path):
    res = _run("status", "--home", str(tmp_path))
    assert res.returncode == 3 and res.stdout.startswith("stopped")
    res = _run("down", "--home", str(tmp_path))
    assert res.returncode == 0 and "not running" in res.stdout


def test_stale_pid_file_is_reported_and_cleared(tmp_path):
    dead = subprocess.Popen([sys.executable, "-c", "pass"])
    dead.wait()
    (tmp_path / "kafka.pid").write_text(f"{dead.pid}\n")
    res = _run("status", "--home", str(tmp_path))
    assert res.returncode == 3 and "stale pid file" in res.stdout
    res = _run("down", "--home", str(tmp_path))
    assert res.returncode == 0 and "stale" in res.stdout
    assert not (tmp_path / "kafka.pid").exists()


def _path_without_java(tmp_path: Path) -> str:
    bin_dir = tmp_path / "bin"
    bin_dir.mkdir()
    for directory in ("/usr/local/bin", "/usr/bin", "/bin"):
        for tool in Path(directory).iterdir():
            target = bin_dir / tool.name
            if tool.name != "java" and not target.exists():
                target.symlink_to(tool)
    return str(bin_dir)


def test_java_missing_is_one_actionable_line(tmp_path):
    env = {**os.environ, "PATH": _path_without_java(tmp_path)}
    res = _run("up", "--home", str(tmp_path / "home"), env=env)
    assert res.returncode != 0
    assert res.stderr.strip() == "error: java not found: install OpenJDK 17 (apt-get install openjdk-17-jre-headless)"


@pytest.mark.kafka
def test_port_in_use_is_refused(kafka_bootstrap, tmp_path):
    port = kafka_bootstrap.rsplit(":", 1)[1]
    res = _run("up", "--home", str(tmp_path), "--port", port, "--controller-port", str(free_port()),
               "--python", sys.executable)
    assert res.returncode != 0
    assert f"port {port} on 127.0.0.1 is already in use" in res.stderr


@pytest.mark.kafka
@pytest.mark.slow
def test_up_status_down_lifecycle(tmp_path):
    home = tmp_path / "k"
    port, cport = free_port(), free_port()
    common = ["--home", str(home)]
    up = _run("up", *common, "--port", str(port), "--controller-port", str(cport), "--heap", "512m",
              "--python", sys.executable)
    try:
        assert up.returncode == 0, up.stderr
        assert f"ready on 127.0.0.1:{port}" in up.stdout
        wait_until_ready(f"127.0.0.1:{port}", 10)
        status = _run("status", *common)
        pid = int((home / "kafka.pid").read_text())
        assert status.returncode == 0 and f"running pid={pid} port={port}" in status.stdout
        again = _run("up", *common, "--port", str(port), "--controller-port", str(cport),
                     "--python", sys.executable)
        assert again.returncode == 0 and "already running" in again.stdout
        assert (home / "logs" / "server.log").stat().st_size > 0  # the log4j config is in effect
        props = (home / "server.properties").read_text()
        assert "auto.create.topics.enable=false" in props and "message.max.bytes=33554432" in props
    finally:
        down = _run("down", *common)
    assert down.returncode == 0 and "stopped" in down.stdout
    assert not (home / "kafka.pid").exists()
    assert not _alive(pid)
    assert _run("status", *common).returncode == 3


@pytest.mark.kafka
def test_five_megabyte_frame_round_trip(kafka_bootstrap, unique_name):
    from confluent_kafka import Consumer, Producer

    settings = KafkaSettings(bootstrap_servers=kafka_bootstrap)
    topic = unique_name("big")
    ensure_topics(settings, [topic])
    # Incompressible text (a hash chain), so the broker really sees ~5 MB after compression.
    chunks, h = [], b"seed"
    for _ in range(5 * 1024 * 1024 // 64 + 1):
        h = hashlib.sha256(h).digest()
        chunks.append(h.hex().encode())
    payload = b"".join(chunks)
    producer = Producer(producer_config(settings))
    producer.produce(topic, value=payload, key=b"BTC-USD")
    assert producer.flush(30) == 0

    consumer = Consumer(consumer_config(settings, unique_name("g")))
    consumer.subscribe([topic])
    deadline = time.monotonic() + 30
    got = None
    while got is None and time.monotonic() < deadline:
        msg = consumer.poll(1.0)
        if msg is not None and msg.error() is None:
            got = msg.value()
    consumer.close()
    assert got is not None and len(got) == len(payload)
    assert hashlib.sha256(got).digest() == hashlib.sha256(payload).digest()


@pytest.mark.kafka
def test_dead_letter_record(kafka_bootstrap, unique_name):
    from confluent_kafka import Consumer, Producer

    settings = KafkaSettings(bootstrap_servers=kafka_bootstrap)
    dlq = unique_name("dlq")
    ensure_topics(settings, [dlq])
    dead = DeadLetter(Producer(producer_config(settings)), dlq)
    dead.send("malformed JSON", source_topic="ticks.raw", value=b'{"channel":', partition=2, offset=41,
              detail={"error": "Expecting value"})
    dead.producer.flush(10)
    assert dead.counts == {"malformed JSON": 1} and dead.total == 1

    consumer = Consumer(consumer_config(settings, unique_name("g")))
    consumer.subscribe([dlq])
    msg, deadline = None, time.monotonic() + 30
    while msg is None and time.monotonic() < deadline:
        m = consumer.poll(1.0)
        msg = m if m is not None and m.error() is None else None
    consumer.close()
    assert msg is not None and msg.key() == b"ticks.raw"
    assert json.loads(msg.value()) == {"reason": "malformed JSON", "source_topic": "ticks.raw", "partition": 2,
                                       "offset": 41, "value": '{"channel":', "detail": {"error": "Expecting value"}}


def test_unreachable_broker_raises_kafka_unavailable():
    bootstrap = f"127.0.0.1:{free_port()}"
    started = time.monotonic()
    with pytest.raises(KafkaUnavailable, match="did not answer a metadata request"):
        wait_until_ready(bootstrap, 2)
    assert time.monotonic() - started < 10
    with pytest.raises(KafkaUnavailable, match="glue broker up"):
        ensure_topics(KafkaSettings(bootstrap_servers=bootstrap), timeout_s=2)


@pytest.mark.kafka
@pytest.mark.slow
def test_stop_with_stops_the_broker_when_its_owner_dies(tmp_path):
    owner = subprocess.Popen(["sleep", "600"])
    home = tmp_path / "k"
    try:
        up = _run("up", "--home", str(home), "--port", str(free_port()), "--controller-port", str(free_port()),
                  "--heap", "512m", "--python", sys.executable, "--stop-with", str(owner.pid))
        assert up.returncode == 0, up.stderr
        pid = int((home / "kafka.pid").read_text())
        owner.kill()
        owner.wait()
        deadline = time.monotonic() + 60
        while time.monotonic() < deadline and _run("status", "--home", str(home)).returncode == 0:
            time.sleep(0.5)
        assert _run("status", "--home", str(home)).returncode == 3
        assert not _alive(pid)
    finally:
        owner.kill()
        _run("down", "--home", str(home))


def test_fixture_fails_never_skips_when_the_broker_cannot_start(tmp_path, repo_root):
    """A run whose broker cannot start reports an error with the reason; nothing is skipped."""
    env = {k: v for k, v in os.environ.items() if k != "TEST_KAFKA_BOOTSTRAP"}
    env["PATH"] = _path_without_java(tmp_path)
    res = subprocess.run(
        [sys.executable, "-m", "pytest", "-q", "-p", "no:cacheprovider",
         "tests/integration/test_kafka_fixture_smoke.py"],
        capture_output=True, text=True, cwd=repo_root, env=env, timeout=300, check=False,
    )
    assert res.returncode == 1, res.stdout
    assert "1 error" in res.stdout and "skipped" not in res.stdout
    assert "did not start" in res.stdout and "java not found" in res.stdout


def test_glue_broker_cli_is_a_thin_bridge(tmp_path, repo_root):
    base = [sys.executable, "-m", "glue", "broker"]
    status = subprocess.run([*base, "status", "--home", str(tmp_path)], capture_output=True, text=True,
                            cwd=repo_root, check=False)
    assert status.returncode == 3 and status.stdout.startswith(f"stopped home={tmp_path}")
    down = subprocess.run([*base, "down", "--home", str(tmp_path)], capture_output=True, text=True,
                          cwd=repo_root, check=False)
    assert down.returncode == 0 and "not running" in down.stdout
