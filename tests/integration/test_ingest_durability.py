"""Ingest durability with real processes: the broker stopped for 10 s mid-run, and SIGTERM mid-run.

The broker test uses a broker of its own (docker/local-kafka on free ports, a temporary home), so
stopping it does not disturb the session broker other tests use.
"""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

from glue.net import free_port
from glue.records import read_archive
from glue.testing.ingest import (
    ExchangeThread,
    archive_records,
    assert_kafka_matches_archive,
    assert_sent_equals_archived,
    ingest_settings,
    read_topic,
    run_ingest_until,
)
from glue.testing.names import unique_name

REPO = Path(__file__).resolve().parents[2]
LOCAL_KAFKA = REPO / "docker" / "local-kafka"

pytestmark = pytest.mark.kafka


def _broker(command: str, home: Path, *args: str) -> subprocess.CompletedProcess:
    return subprocess.run([str(LOCAL_KAFKA), command, "--home", str(home), *args], capture_output=True, text=True,
                          timeout=300, check=False)


@pytest.fixture
def own_broker(tmp_path_factory):
    """A broker of this test's own: (bootstrap, start(), stop())."""
    home = tmp_path_factory.mktemp("own-kafka")
    port, controller = free_port(), free_port()
    args = ("--port", str(port), "--controller-port", str(controller), "--heap", "384m", "--timeout", "120",
            "--python", sys.executable)

    def start() -> None:
        result = _broker("up", home, *args)
        assert result.returncode == 0, result.stderr or result.stdout

    def stop() -> None:
        _broker("down", home, "--timeout", "60")

    start()
    try:
        yield f"127.0.0.1:{port}", start, stop
    finally:
        stop()


@pytest.mark.slow
def test_broker_stopped_for_10s_mid_run_loses_nothing(own_broker, tmp_path):
    bootstrap, start, stop = own_broker
    topic = unique_name("ticks-raw")
    with ExchangeThread(speed=20.0) as ex:
        settings = ingest_settings(ex.url, tmp_path, bootstrap=bootstrap, topic=topic, watchdog_s=30.0)
        phase = {"t0": time.monotonic(), "stopped": None, "restarted": None}

        def done() -> bool:
            now = time.monotonic()
            if phase["stopped"] is None and now - phase["t0"] > 3:
                stop()
                phase["stopped"] = time.monotonic()
            elif phase["stopped"] is not None and phase["restarted"] is None and now - phase["stopped"] >= 10:
                start()
                phase["restarted"] = time.monotonic()
            return phase["restarted"] is not None and now - phase["restarted"] > 5

        # a low high-water mark, so the outage also exercises the disk spool, not only librdkafka's queue
        summary = run_ingest_until(settings, done, timeout_s=180, spool_high_water=300, spool_low_water=50)
        sent = ex.sent()
    records = archive_records(summary)
    assert_sent_equals_archived(sent, records)
    assert summary.kafka_spooled_total > 0, "\n".join(summary.lines())
    assert summary.kafka_spool_pending == 0 and summary.kafka_unacked_at_exit == 0
    messages = read_topic(bootstrap, topic, summary.kafka_acked, timeout_s=120)
    assert_kafka_matches_archive(messages, records)
    assert list((tmp_path / "spool").rglob("*.spool")) == []


@pytest.mark.slow
def test_sigterm_mid_run_flushes_everything(kafka_bootstrap, tmp_path):
    topic = unique_name("ticks-raw")
    with ExchangeThread(speed=0) as ex:
        cmd = [sys.executable, "-m", "glue", "ingest", "--pair", "BTC-USD", "--pair", "ETH-USD", "--url", ex.url,
               "--bootstrap", kafka_bootstrap, "--topic", topic, "--archive-dir", str(tmp_path / "raw"),
               "--spool-dir", str(tmp_path / "spool"), "--json-summary"]
        # settings come from flags only (GLUE_* variables of the test run are not for this process)
        env = {k: v for k, v in os.environ.items() if not k.startswith("GLUE_")} | {"PYTHONUNBUFFERED": "1"}
        proc = subprocess.Popen(cmd, cwd=REPO, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
                                env=env)
        try:
            deadline = time.monotonic() + 60
            while time.monotonic() < deadline and len(ex.server.sent.get(1, ())) < 5000 and proc.poll() is None:
                time.sleep(0.1)
            proc.send_signal(signal.SIGTERM)
            out, err = proc.communicate(timeout=90)
        finally:
            if proc.poll() is None:
                proc.kill()
        sent = ex.sent()
    assert proc.returncode == 0, err[-3000:]
    summary = json.loads(out.strip().splitlines()[-1])
    assert summary["stop_reason"] == "signal SIGTERM"
    files = summary["archive_files"]
    records = list(read_archive(files))  # every line parses: nothing half-written
    assert records[-1].kind == "marker" and records[-1].marker["type"] == "disconnect"
    assert_sent_equals_archived(sent, records)
    assert summary["kafka_unacked_at_exit"] == 0 and summary["kafka_acked"] == summary["kafka_produced"]
    messages = read_topic(kafka_bootstrap, topic, summary["kafka_acked"])
    assert_kafka_matches_archive(messages, records)


@pytest.mark.slow
def test_broker_down_at_start_frames_spooled_then_sent(own_broker, tmp_path):
    bootstrap, start, stop = own_broker
    stop()
    topic = unique_name("ticks-raw")
    with ExchangeThread(speed=20.0) as ex:
        settings = ingest_settings(ex.url, tmp_path, bootstrap=bootstrap, topic=topic, watchdog_s=30.0)
        phase = {"t0": time.monotonic(), "started": None}

        def done() -> bool:
            now = time.monotonic()
            if phase["started"] is None and now - phase["t0"] > 6:
                start()
                phase["started"] = time.monotonic()
            return phase["started"] is not None and now - phase["started"] > 8

        summary = run_ingest_until(settings, done, timeout_s=180, spool_high_water=300, spool_low_water=50)
        sent = ex.sent()
    records = archive_records(summary)
    assert_sent_equals_archived(sent, records)
    assert summary.kafka_spooled_total > 0 and summary.kafka_spool_pending == 0, "\n".join(summary.lines())
    messages = read_topic(bootstrap, topic, summary.kafka_acked, timeout_s=120)
    assert_kafka_matches_archive(messages, records)


@pytest.mark.slow
def test_unacknowledged_at_exit_is_spooled_and_sent_by_the_next_run(own_broker, tmp_path):
    bootstrap, start, stop = own_broker
    stop()
    topic = unique_name("ticks-raw")
    with ExchangeThread(speed=20.0) as ex:
        settings = ingest_settings(ex.url, tmp_path, bootstrap=bootstrap, topic=topic)
        t0 = time.monotonic()
        first = run_ingest_until(settings, lambda: time.monotonic() - t0 > 3, kafka_close_timeout_s=2.0)
    assert first.kafka_acked == 0 and first.kafka_spool_pending > 0, "\n".join(first.lines())
    assert list((tmp_path / "spool").rglob("*.spool"))
    start()
    with ExchangeThread(speed=20.0) as ex:
        settings = ingest_settings(ex.url, tmp_path, bootstrap=bootstrap, topic=topic)
        t0 = time.monotonic()
        second = run_ingest_until(settings, lambda: time.monotonic() - t0 > 4)
    assert second.kafka_spool_pending == 0 and second.kafka_unacked_at_exit == 0
    records = archive_records(first) + archive_records(second)
    messages = read_topic(bootstrap, topic, second.kafka_acked, timeout_s=120)
    assert_kafka_matches_archive(messages, records)  # the first run's records included, each once
