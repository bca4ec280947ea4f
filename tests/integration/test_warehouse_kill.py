"""kill -9 of a process driving the engine, at random points, then restart: nothing lost, nothing twice.

The child resumes from the offsets DuckDB stored with the rows (as glue featurize does with Kafka), so the
warehouse alone decides what has been landed and finalized. After several kills the finished warehouse must
hold exactly the one-shot replay's feature rows, bit for bit.
"""

from __future__ import annotations

import random
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

from glue.config import FeatureSettings
from glue.records import fanout_keys, read_archive
from glue.testing.streams import holey_stream, messy_stream, one_shot
from glue.warehouse import Warehouse

CHILD = r'''
import random, sys
from glue.config import FeatureSettings
from glue.records import fanout_keys, read_archive
from glue.warehouse import Warehouse
records = list(read_archive([sys.argv[1]]))
rng = random.Random(int(sys.argv[3]))
wh = Warehouse.open(sys.argv[2], FeatureSettings(lateness_s=2))
start = wh.committed_offsets().get(("ticks.raw", 0), 0)
while start < len(records):
    stop = min(len(records), start + rng.randint(1, 60))
    coords = [("ticks.raw", 0, i, fanout_keys(records[i])[0]) for i in range(start, stop)]
    wh.land(records[start:stop], coords)
    wh.finalize()
    for batch in wh.pending_exports():
        wh.mark_exported(batch.batch_id)
    start = stop
    print("landed", start, flush=True)
wh.close()
print("done")
'''


@pytest.mark.slow
@pytest.mark.parametrize("stream", ["messy", "holes"])
def test_kill_9_anywhere_then_restart_equals_one_shot(tmp_path: Path, stream: str) -> None:
    # "holes": parts joined by holes of 3 s, 2 h and 30 days (SQL v5 sessions across kills and restarts)
    source = messy_stream(21, 1500) if stream == "messy" else holey_stream(21, 400)
    records = [r for r in source if len(fanout_keys(r)) == 1]
    archive = tmp_path / "a.ndjson"
    archive.write_text("".join(r.to_archive_line() + "\n" for r in records))
    path = tmp_path / "wh.duckdb"
    rng = random.Random(5)
    kills = 0
    for attempt in range(4):
        child = subprocess.Popen([sys.executable, "-c", CHILD, str(archive), str(path), str(attempt)],
                                 stdout=subprocess.PIPE, stderr=subprocess.DEVNULL, text=True)
        # Kill by progress, not by wall time: after a random number of committed batches, at a random
        # moment inside the next one, so a fast or a loaded machine both see real kills.
        assert child.stdout is not None
        for _ in range(rng.randint(1, 5)):
            if not child.stdout.readline():
                break
        time.sleep(rng.uniform(0.0, 0.05))
        if child.poll() is None:
            child.send_signal(signal.SIGKILL)
            kills += 1
        child.wait(timeout=60)
        child.stdout.close()
    done = subprocess.run([sys.executable, "-c", CHILD, str(archive), str(path), "99"], capture_output=True,
                          text=True, timeout=600)
    assert done.returncode == 0, done.stderr
    assert kills >= 1
    with Warehouse.open(str(path), FeatureSettings(lateness_s=2)) as wh:
        stored = wh.features()
        dupes = wh.con.sql("SELECT count(*) - count(DISTINCT (product_id, second_at)) FROM exp_features").fetchall()
        assert dupes == [(0,)]
        assert wh.committed_offsets() == {("ticks.raw", 0): len(records)}
        assert wh.pending_exports() == []
    assert stored.equals(one_shot(list(read_archive([str(archive)]))))
