"""kill -9 of ingest under load, several times, then a clean run (issue 14, item 3): real processes.

A `glue exchange` process (logging every frame it sends), the session Kafka broker, and `glue ingest`
processes on one archive, spool and topic: three are killed with SIGKILL at seeded random moments, the
fourth stops on SIGTERM. Afterwards the topic equals the archive (every archived record once per fanout
key, nothing else, in order), every frame the exchange sent and no archive holds lies inside a
`data_gap` marker (reason `restart`) of the run after the kill, and `glue check` reports those gaps.
"""

from __future__ import annotations

import json
import random
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

from glue.ingest.tracker import event_ns
from glue.protocol import inspect_frame
from glue.records import fanout_keys, read_archive
from tests.helpers import unique_name
from tests.integration.ingest_support import assert_kafka_matches_archive, read_topic
from tests.integration.test_ingest_faults import REPO, _env, glue_exchange

pytestmark = [pytest.mark.kafka, pytest.mark.slow]

KILLS = 3


def _ingest(tmp: Path, url: str, bootstrap: str, topic: str, n: int) -> subprocess.Popen:
    cmd = [sys.executable, "-m", "glue", "ingest", "--pair", "BTC-USD", "--pair", "ETH-USD", "--url", url,
           "--bootstrap", bootstrap, "--topic", topic, "--archive-dir", str(tmp / "raw"), "--spool-dir",
           str(tmp / "spool"), "--json-summary"]
    with open(tmp / f"ingest-{n}.out", "w") as out, open(tmp / f"ingest-{n}.err", "w") as err:
        return subprocess.Popen(cmd, cwd=REPO, env=_env(), stdout=out, stderr=err, text=True)


def _archived_lines(tmp: Path) -> int:
    return sum(p.read_bytes().count(b"\n") for p in (tmp / "raw").rglob("*.ndjson"))


def test_kill_9_under_load_then_restart_loses_nothing_and_marks_every_hole(kafka_bootstrap, tmp_path):
    rng = random.Random(14)
    topic = unique_name("ticks-raw")
    sent_log = tmp_path / "sent.ndjson"
    runs: list[str] = []
    with glue_exchange("--products", "BTC-USD,ETH-USD", "--speed", "20", "--sent-log", str(sent_log)) as port:
        url = f"ws://127.0.0.1:{port}"
        for n in range(KILLS):
            before = _archived_lines(tmp_path)
            proc = _ingest(tmp_path, url, kafka_bootstrap, topic, n)
            deadline = time.monotonic() + 60
            while _archived_lines(tmp_path) < before + 200 and time.monotonic() < deadline:
                time.sleep(0.05)
            time.sleep(rng.uniform(0.0, 3.0))  # a random point under load
            proc.send_signal(signal.SIGKILL)
            proc.wait(30)
            time.sleep(rng.uniform(0.5, 2.0))  # the market goes on with nobody connected
        last = _ingest(tmp_path, url, kafka_bootstrap, topic, KILLS)
        time.sleep(6)
        last.send_signal(signal.SIGTERM)
        last.wait(120)
    err = "".join((tmp_path / f"ingest-{n}.err").read_text() for n in range(KILLS + 1))
    assert last.returncode == 0, err[-3000:]
    summary = json.loads((tmp_path / f"ingest-{KILLS}.out").read_text().strip().splitlines()[-1])
    recovered = [line for line in err.splitlines() if "never acknowledged were sent now" in line]
    assert len(recovered) == KILLS, err[-3000:]
    print("\n".join(recovered))
    assert len(summary["recovered_runs"]) == 1  # the last killed run (the earlier ones were recovered before)

    files = sorted((tmp_path / "raw").rglob("*.ndjson"), key=lambda p: (p.name.rsplit("-", 1)[0], p.name))
    records = list(read_archive([str(p) for p in files]))  # every line parses: partial tails were cut
    runs = sorted({r.conn.rsplit("-", 1)[0] for r in records})
    assert len(runs) == KILLS + 1

    # archive == topic: nothing lost, nothing duplicated
    expected = sum(len(fanout_keys(r)) for r in records)
    messages = read_topic(kafka_bootstrap, topic, expected, timeout_s=120)
    assert_kafka_matches_archive(messages, records)

    # every frame sent and not archived lies inside a restart gap of the run that followed
    archived = {r.frame for r in records if r.kind == "frame"}
    gaps = [r.marker for r in records if r.kind == "marker" and r.marker["type"] == "data_gap"
            and r.marker.get("reason") == "restart"]
    assert len(gaps) == KILLS, gaps
    lost = 0
    for line in sent_log.read_text().splitlines():
        frame = json.loads(line)["frame"]
        if frame in archived:
            continue
        info = inspect_frame(frame)
        at = event_ns(info.timestamp)
        assert at is not None
        lost += 1
        assert any(g["from_ns"] <= at <= g["to_ns"] for g in gaps), f"unmarked hole at {info.timestamp}"
    print(f"{lost} frames sent by the exchange and lost in the kills, all inside restart gaps")

    # glue check reads the topic and reports the gaps
    check = subprocess.run([sys.executable, "-m", "glue", "check", "--topic", topic, "--bootstrap", kafka_bootstrap,
                            "--min", "1"], cwd=REPO, env=_env(), capture_output=True, text=True, timeout=300)
    assert "restart" in check.stdout, check.stdout + check.stderr
    assert "duplicate" not in check.stdout.lower() or " 0 duplicates" in check.stdout
