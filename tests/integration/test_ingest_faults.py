"""Faults an outside tester found in ingest (issue 14), each with real processes.

* a slow link (a bandwidth-capping TCP proxy process) in front of a 2,000-level book: the watchdog
  sees bytes arriving and does not loop on the snapshot (item 2);
* runs that deliver nothing end with one `error:` line and a non-zero exit: an unreachable or
  unresolvable --url, a malformed pair the exchange refuses (its error frames logged as WARNING when
  they arrive), a Kafka authentication failure (item 4).
"""

from __future__ import annotations

import json
import os
import socket
import subprocess
import sys
import time
from contextlib import contextmanager
from pathlib import Path

import pytest

from glue.records import read_archive
from tests.helpers import free_port, unique_name

REPO = Path(__file__).resolve().parents[2]


def _env() -> dict[str, str]:
    # settings come from flags only (GLUE_* variables of the test run are not for these processes)
    return {k: v for k, v in os.environ.items() if not k.startswith("GLUE_")} | {"PYTHONUNBUFFERED": "1"}


def _wait_port(port: int, timeout_s: float = 30.0) -> None:
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        with socket.socket() as sock:
            if sock.connect_ex(("127.0.0.1", port)) == 0:
                return
        time.sleep(0.1)
    raise AssertionError(f"nothing listens on {port}")


def _stop(proc: subprocess.Popen) -> None:
    if proc.poll() is None:
        proc.terminate()
        try:
            proc.wait(20)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait(10)


@contextmanager
def glue_exchange(*args: str):
    """`glue exchange` as a process on a free port; yields the port."""
    port = free_port()
    proc = subprocess.Popen([sys.executable, "-m", "glue", "exchange", "--port", str(port), *args], cwd=REPO,
                            env=_env(), stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    try:
        _wait_port(port)
        yield port
    finally:
        _stop(proc)


@contextmanager
def throttle_proxy(target_port: int, rate_bps: int):
    """tests/throttle_proxy.py as a process; yields its port."""
    proc = subprocess.Popen([sys.executable, "-m", "tests.throttle_proxy", str(target_port), str(rate_bps)], cwd=REPO,
                            env=_env(), stdout=subprocess.PIPE, text=True)
    try:
        line = proc.stdout.readline()
        assert line.startswith("port "), line
        yield int(line.split()[1])
    finally:
        _stop(proc)


def glue_ingest(tmp: Path, *args: str, timeout_s: float = 180) -> subprocess.CompletedProcess:
    cmd = [sys.executable, "-m", "glue", "ingest", "--archive-dir", str(tmp / "raw"), "--spool-dir",
           str(tmp / "spool"), "--json-summary", *args]
    return subprocess.run(cmd, cwd=REPO, env=_env(), capture_output=True, text=True, timeout=timeout_s)


def _summary(out: subprocess.CompletedProcess) -> dict:
    return json.loads(out.stdout.strip().splitlines()[-1])


def _error_line(out: subprocess.CompletedProcess) -> str:
    errors = [line for line in out.stderr.splitlines() if line.startswith("error: ")]
    assert len(errors) == 1, out.stderr[-3000:]
    assert "Traceback" not in out.stderr, out.stderr[-3000:]
    return errors[0]


# -- item 2: the watchdog counts bytes ---------------------------------------------------------------

@pytest.mark.slow
def test_big_snapshot_over_a_slow_link_arrives_without_watchdog_loops(tmp_path):
    rate = 40_000  # bytes/s: the 2,000-level snapshot takes ~10 s, the watchdog is 3 s
    with glue_exchange("--products", "BTC-USD", "--book-levels", "2000", "--seed", "3") as port, \
            throttle_proxy(port, rate) as proxy_port:
        out = glue_ingest(tmp_path, "--pair", "BTC-USD", "--channels", "level2,heartbeats", "--url",
                          f"ws://127.0.0.1:{proxy_port}", "--watchdog", "3", "--minutes", "0.4", "--no-kafka")
    assert out.returncode == 0, out.stderr[-3000:]
    summary = _summary(out)
    records = list(read_archive(summary["archive_files"]))
    snapshots = [r for r in records if r.kind == "frame" and '"type":"snapshot"' in (r.frame or "")]
    assert snapshots, "the level2 snapshot never arrived"
    assert len(snapshots[0].frame) > 300_000  # really bigger than the link carries in a watchdog period
    assert summary["watchdog_fired"] == 0 and summary["connections"] == 1, summary


def test_a_link_that_really_goes_silent_is_still_reconnected(tmp_path):
    # stall:N:SECONDS:silence -> nothing at all (no heartbeat, no byte) for 8 s on connection 1
    with glue_exchange("--products", "BTC-USD", "--fault", "stall:50:8:silence", "--speed", "5") as port:
        out = glue_ingest(tmp_path, "--pair", "BTC-USD", "--channels", "ticker,heartbeats", "--url",
                          f"ws://127.0.0.1:{port}", "--watchdog", "2", "--minutes", "0.2", "--no-kafka")
    assert out.returncode == 0, out.stderr[-3000:]
    summary = _summary(out)
    assert summary["watchdog_fired"] >= 1 and summary["connections"] >= 2, summary


# -- item 4: runs that deliver nothing fail ----------------------------------------------------------

def test_unreachable_url_is_one_line_and_non_zero(tmp_path):
    dead = free_port()
    out = glue_ingest(tmp_path, "--pair", "BTC-USD", "--url", f"ws://127.0.0.1:{dead}", "--minutes", "0.05",
                      "--no-kafka")
    assert out.returncode != 0
    line = _error_line(out)
    assert f"127.0.0.1:{dead}" in line and "no frame" in line


def test_unresolvable_url_is_one_line_and_non_zero(tmp_path):
    out = glue_ingest(tmp_path, "--pair", "BTC-USD", "--url", "ws://no-such-host.invalid:8765", "--minutes",
                      "0.05", "--no-kafka")
    assert out.returncode != 0
    assert "no-such-host.invalid" in _error_line(out)


def test_malformed_pair_error_frames_are_warnings_and_the_run_fails(tmp_path):
    with glue_exchange("--products", "BTC-USD") as port:
        out = glue_ingest(tmp_path, "--pair", "btcusd", "--url", f"ws://127.0.0.1:{port}", "--minutes", "0.08",
                          "--no-kafka")
    assert out.returncode != 0, out.stderr[-3000:]
    warnings = [line for line in out.stderr.splitlines() if " WARNING " in line and "error frame" in line]
    assert warnings, out.stderr[-3000:]
    assert "btcusd" in " ".join(warnings) or "product" in " ".join(warnings).lower()
    line = _error_line(out)
    assert "no data" in line and "error frame" in line
    summary = _summary(out)
    assert summary["error_frames"] >= 1 and summary["data_frames"] == 0


@pytest.mark.kafka
def test_kafka_authentication_failure_is_one_line_and_non_zero(kafka_bootstrap, tmp_path):
    config = tmp_path / "sasl.yaml"
    config.write_text("kafka:\n  security_protocol: SASL_PLAINTEXT\n  sasl_mechanism: PLAIN\n"
                      "  sasl_username: someone\n")
    topic = unique_name("ticks-raw")
    with glue_exchange("--products", "BTC-USD") as port:
        t0 = time.monotonic()
        cmd = [sys.executable, "-m", "glue", "--config", str(config), "ingest", "--pair", "BTC-USD", "--url",
               f"ws://127.0.0.1:{port}", "--bootstrap", kafka_bootstrap, "--topic", topic, "--minutes", "1",
               "--archive-dir", str(tmp_path / "raw"), "--spool-dir", str(tmp_path / "spool"), "--json-summary"]
        out = subprocess.run(cmd, cwd=REPO, env=_env() | {"GLUE_KAFKA__SASL_PASSWORD": "wrong"},
                             capture_output=True, text=True, timeout=180)
        elapsed = time.monotonic() - t0
    assert out.returncode != 0, out.stderr[-3000:]
    line = _error_line(out)
    assert "authentication" in line.lower() or "sasl" in line.lower(), line
    assert elapsed < 40, "an authentication failure should stop the run, not wait for --minutes"
    assert len(out.stderr.splitlines()) < 40, out.stderr[-3000:]  # not hundreds of librdkafka lines
    summary = _summary(out)
    assert summary["kafka_acked"] == 0 and summary["kafka_dead"] == 0
    # nothing lost: whatever was received is archived and left in the spool for a run with the right credentials
    archived = sum(1 for _ in read_archive(summary["archive_files"]))
    assert summary["kafka_spool_pending"] >= archived


# -- item 7: a broker outage is three kinds of line, not hundreds ------------------------------------

@pytest.mark.slow
@pytest.mark.kafka
def test_broker_outage_logs_away_status_back_and_nothing_else(tmp_path):
    from tests.integration.test_ingest_durability import LOCAL_KAFKA

    home, port, controller = tmp_path / "own-kafka", free_port(), free_port()
    args = ["--home", str(home), "--port", str(port), "--controller-port", str(controller), "--heap", "384m",
            "--timeout", "120", "--python", sys.executable]

    def broker(command: str, *extra: str) -> None:
        done = subprocess.run([str(LOCAL_KAFKA), command, *extra], capture_output=True, text=True, timeout=300)
        assert done.returncode == 0, done.stderr or done.stdout

    broker("up", *args)
    try:
        topic = unique_name("ticks-raw")
        with glue_exchange("--products", "BTC-USD", "--speed", "5") as ex_port:
            cmd = [sys.executable, "-m", "glue", "ingest", "--pair", "BTC-USD", "--url", f"ws://127.0.0.1:{ex_port}",
                   "--bootstrap", f"127.0.0.1:{port}", "--topic", topic, "--archive-dir", str(tmp_path / "raw"),
                   "--spool-dir", str(tmp_path / "spool"), "--json-summary", "--watchdog", "30"]
            env = _env() | {"GLUE_INGEST__KAFKA_STATUS_INTERVAL_S": "5", "GLUE_INGEST__PROGRESS_INTERVAL_S": "600"}
            proc = subprocess.Popen(cmd, cwd=REPO, env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
            try:
                time.sleep(8)
                broker("down", "--home", str(home), "--timeout", "60")
                time.sleep(17)
                broker("up", *args)
                time.sleep(10)
                proc.terminate()
                out, err = proc.communicate(timeout=120)
            finally:
                _stop(proc)
    finally:
        broker("down", "--home", str(home), "--timeout", "60")
    assert proc.returncode == 0, err[-3000:]
    lines = err.splitlines()
    away = [x for x in lines if "unreachable (" in x]
    status = [x for x in lines if "still unreachable" in x]
    back = [x for x in lines if "is back after" in x]
    assert len(away) == 1 and len(back) == 1, "\n".join(lines[-60:])
    outage_s = float(back[0].split("is back after ")[1].split(" s")[0])
    assert 1 <= len(status) <= outage_s / 5 + 1, "\n".join(status)  # one per status interval, no more
    assert "in the spool" in status[0]
    assert not [x for x in lines if "glue.ingest.librdkafka" in x or "rdkafka#" in x], "\n".join(lines[-60:])
    assert len(lines) < 25 + len(status), "\n".join(lines)
    summary = json.loads(out.strip().splitlines()[-1])
    assert summary["kafka_acked"] > 0 and summary["kafka_spool_pending"] == 0 and summary["kafka_unacked_at_exit"] == 0
