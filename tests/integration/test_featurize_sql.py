"""Ad-hoc `glue sql` while `glue featurize` runs (and holds the DuckDB file), then after it stopped."""

from __future__ import annotations

import subprocess
import sys
import time

import pytest

from glue.testing.featurize import (
    REPO_ROOT,
    featurize_cmd,
    featurize_env,
    produce,
    read_parquet_dir,
    ticker_stream,
)

pytestmark = [pytest.mark.kafka, pytest.mark.slow]


def glue_sql(query: str, warehouse: str) -> tuple[int, str]:
    """`glue sql` as a user runs it; returns (the single integer answered, the source line)."""
    out = subprocess.run([sys.executable, "-m", "glue", "sql", query, "--warehouse", warehouse],
                         cwd=REPO_ROOT, capture_output=True, text=True, timeout=60,
                         env=featurize_env("unused", batch_frames=1))
    assert out.returncode == 0, out.stderr
    lines = out.stdout.strip().splitlines()
    return int(lines[2].strip()), lines[-1]


def test_glue_sql_answers_while_featurize_runs(kafka_bootstrap, unique_name, tmp_path):
    records = ticker_stream(240, seed=8)
    topic_in, topic_out = unique_name("raw"), unique_name("feat")
    produce(kafka_bootstrap, topic_in, records)
    cmd = featurize_cmd(kafka_bootstrap, topic_in, topic_out, unique_name("g"), tmp_path, "s", until_idle_s=3)
    warehouse = str(tmp_path / "warehouse-s.duckdb")
    snapshot = tmp_path / "warehouse-s.duckdb.snapshot" / "features"
    query = "SELECT count(*) AS n FROM exp_features"
    with open(tmp_path / "featurize.log", "wb") as log:
        proc = subprocess.Popen(cmd, cwd=REPO_ROOT, env=featurize_env(unique_name("dlq"), batch_frames=20),
                                stdout=log, stderr=subprocess.STDOUT)
        try:
            deadline = time.monotonic() + 60
            while not list(snapshot.glob("*.parquet")):
                assert time.monotonic() < deadline and proc.poll() is None, (tmp_path / "featurize.log").read_text()
                time.sleep(0.1)
            first, source = glue_sql(query, warehouse)
            assert proc.poll() is None, "featurize should still be running"
            assert first > 0 and "snapshot" in source
            time.sleep(2.0)
            second, _ = glue_sql(query, warehouse)
            assert proc.poll() is None, "featurize should still be running"
            assert second > first, "the snapshot follows the live run"
            assert proc.wait(timeout=300) == 0
        finally:
            if proc.poll() is None:
                proc.kill()
                proc.wait()
    # Stopped: the file itself answers, and it agrees with the snapshot and the Parquet parts.
    total, source = glue_sql(query, warehouse)
    assert "warehouse" in source
    assert total == read_parquet_dir(tmp_path / "features-s").num_rows
    from glue.warehouse import open_snapshot

    con = open_snapshot(snapshot.parent, sql_dir=str(REPO_ROOT / "sql"))
    assert con.sql(query).fetchall()[0][0] == total
    con.close()
