"""`glue sql` answers from the file when it is free and from the published snapshot while a writer holds it."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

from glue.config import FeatureSettings
from glue.warehouse import Warehouse
from glue.warehouse import fixtures as fx

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
