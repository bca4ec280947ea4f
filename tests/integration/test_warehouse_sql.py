"""`glue sql` answers from the file when it is free and from the published snapshot while a writer holds it."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

from glue.config import FeatureSettings
from glue.testing import fixtures as fx
from glue.warehouse import Warehouse

QUERY = "SELECT count(*) AS n, count(sigma_future_bps) AS n_sigma FROM trn_training_1s"


def glue_sql(*args: str) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", "glue", "sql", *args], capture_output=True, text=True, timeout=120)


def test_sql_while_a_writer_holds_the_file(tmp_path: Path) -> None:
    path = str(tmp_path / "wh.duckdb")
    records = list(fx.simulate_ticker_stream(4000, seed=3, mean_gap_ms=60))
    wh = Warehouse.open(path, FeatureSettings())
    try:
        wh.land(records[:2000])
        wh.finalize()
        wh.publish_snapshot()
        wh.land(records[2000:])
        wh.finalize()
        assert wh.publish_snapshot() == 1
        expected = wh.con.sql(QUERY).fetchall()[0]
        # the writer still holds the file: another process gets the snapshot
        live = glue_sql(QUERY, "--warehouse", path, "--format", "json")
        assert live.returncode == 0, live.stderr
        assert [tuple(r.values()) for r in json.loads(live.stdout)] == [expected]
        table = glue_sql("SELECT count(*) FROM exp_features", "--warehouse", path)
        assert "from the snapshot" in table.stdout
    finally:
        wh.close()
    free = glue_sql("SELECT count(*) FROM raw_frames", "--warehouse", path, "--format", "csv")
    assert free.returncode == 0, free.stderr
    assert free.stdout.splitlines()[1] == str(len(records))


def test_sql_without_warehouse_or_snapshot_is_a_one_line_error(tmp_path: Path) -> None:
    out = glue_sql("SELECT 1", "--warehouse", str(tmp_path / "missing.duckdb"))
    assert out.returncode != 0
    assert out.stderr.startswith("error: ") and "Traceback" not in out.stderr


def test_glue_replay_cli_writes_features_and_labels(tmp_path: Path) -> None:
    import pyarrow.parquet as pq

    archive = tmp_path / "raw" / "2026-01-01" / "run-0001.ndjson"
    archive.parent.mkdir(parents=True)
    records = list(fx.simulate_ticker_stream(3000, seed=9, mean_gap_ms=80, gap_every=700))
    archive.write_text("".join(r.to_archive_line() + "\n" for r in records))
    out, labels = tmp_path / "f.parquet", tmp_path / "l.parquet"
    done = subprocess.run([sys.executable, "-m", "glue", "replay", "--raw", str(tmp_path / "raw" / "*" / "*.ndjson"),
                           "--out", str(out), "--labels-out", str(labels), "--chunk", "500"],
                          capture_output=True, text=True, timeout=300)
    assert done.returncode == 0, done.stderr
    assert "feature rows" in done.stdout
    with Warehouse.open(":memory:", FeatureSettings()) as wh:
        wh.land(records)
        wh.finalize()
        assert pq.read_table(out).equals(wh.features())
    assert pq.read_table(labels).num_rows >= pq.read_table(out).num_rows
    missing = subprocess.run([sys.executable, "-m", "glue", "replay", "--raw", str(tmp_path / "nope*.ndjson")],
                             capture_output=True, text=True, timeout=120)
    assert missing.returncode != 0 and missing.stderr.startswith("error: ")
