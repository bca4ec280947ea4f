"""`glue sql` is read-only and sandboxed (issue 14, item 1): real `glue sql` processes on real DuckDB files.

Every statement kind the outside tester used to write or read files, or to change the warehouse, is
refused by DuckDB itself with one `error:` line and a non-zero exit, on the warehouse file and on the
published snapshot; the warehouse file (and the snapshot) keep their exact bytes. `--allow-files DIR`
opens DIR to the query and nothing else.
"""

from __future__ import annotations

import hashlib
import subprocess
import sys
from pathlib import Path

import pytest

from glue.config import FeatureSettings
from glue.warehouse import Warehouse
from glue.warehouse import fixtures as fx


def glue_sql(*args: str) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", "glue", "sql", *args], capture_output=True, text=True, timeout=120)


def sha256(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


def tree_digest(root: Path) -> dict[str, str]:
    return {str(p.relative_to(root)): sha256(p) for p in sorted(root.rglob("*")) if p.is_file()}


@pytest.fixture(scope="module")
def warehouse(tmp_path_factory) -> Path:
    path = tmp_path_factory.mktemp("sandbox") / "wh.duckdb"
    with Warehouse.open(str(path), FeatureSettings()) as wh:
        wh.land(list(fx.simulate_ticker_stream(3000, seed=5, mean_gap_ms=60)))
        wh.finalize()
        assert wh.publish_snapshot() >= 1
    return path


def hostile(target_dir: Path, warehouse: Path) -> list[str]:
    return [
        f"COPY (SELECT 1 AS x) TO '{warehouse}' (FORMAT csv)",
        f"COPY (SELECT 1 AS x) TO '{target_dir / 'out.csv'}' (FORMAT csv)",
        f"ATTACH '{target_dir / 'new.duckdb'}' AS other",
        "SELECT * FROM read_text('/etc/passwd')",
        "SELECT * FROM read_csv('/etc/passwd', sep = ':')",
        "DROP TABLE raw_frames",
        "DROP VIEW feat_features_1s",
        "DELETE FROM raw_frames",
        "CREATE TABLE t (x INTEGER)",
        "SET enable_external_access = true",
        "SET lock_configuration = false",
        "RESET enable_external_access",
        "SET allowed_directories = ['/']",
        "SET enable_external_access = true; SELECT * FROM read_text('/etc/passwd')",
        "INSTALL httpfs",
    ]


def _assert_refused(out: subprocess.CompletedProcess, sql: str) -> None:
    assert out.returncode != 0, f"accepted: {sql}\n{out.stdout}"
    lines = out.stderr.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("error: "), (sql, out.stderr)
    assert "root:" not in out.stdout


def test_every_hostile_statement_is_refused_on_the_warehouse_file(warehouse: Path, tmp_path: Path) -> None:
    before, snap_before = sha256(warehouse), tree_digest(Path(f"{warehouse}.snapshot"))
    for sql in hostile(tmp_path, warehouse):
        _assert_refused(glue_sql(sql, "--warehouse", str(warehouse)), sql)
    assert sha256(warehouse) == before
    assert tree_digest(Path(f"{warehouse}.snapshot")) == snap_before
    assert list(tmp_path.iterdir()) == []
    ok = glue_sql("SELECT count(*) FROM raw_frames", "--warehouse", str(warehouse), "--format", "csv")
    assert ok.returncode == 0 and ok.stdout.splitlines()[1] == "3000", ok.stderr


def test_every_hostile_statement_is_refused_on_the_snapshot(warehouse: Path, tmp_path: Path) -> None:
    snap = Path(f"{warehouse}.snapshot")
    part = sorted((snap / "features").glob("*.parquet"))[0]
    snap_before = tree_digest(snap)
    # a writer holds the file (and may change it itself): glue sql answers from the snapshot
    with Warehouse.open(str(warehouse), FeatureSettings()):
        assert "from the snapshot" in glue_sql("SELECT count(*) FROM exp_features", "--warehouse",
                                               str(warehouse)).stdout
        for sql in [*hostile(tmp_path, warehouse), "DROP VIEW exp_features",
                    f"COPY (SELECT 1 AS x) TO '{part}' (FORMAT parquet)",
                    f"COPY (SELECT 1 AS x) TO '{snap / 'features' / 'batch-999999999.parquet'}' (FORMAT parquet)"]:
            _assert_refused(glue_sql(sql, "--warehouse", str(warehouse)), sql)
        # the views still answer after all that (each query is a fresh sandbox)
        ok = glue_sql("SELECT count(*) FROM exp_features", "--warehouse", str(warehouse), "--format", "csv")
        assert ok.returncode == 0 and int(ok.stdout.splitlines()[1]) > 0, ok.stderr
    assert tree_digest(snap) == snap_before
    assert list(tmp_path.iterdir()) == []


def test_allow_files_opens_that_directory_only(warehouse: Path, tmp_path: Path) -> None:
    out_dir = tmp_path / "out"
    out_dir.mkdir()
    before = sha256(warehouse)
    done = glue_sql(f"COPY (SELECT count(*) AS n FROM raw_frames) TO '{out_dir / 'n.csv'}' (FORMAT csv)",
                    "--warehouse", str(warehouse), "--allow-files", str(out_dir))
    assert done.returncode == 0, done.stderr
    assert (out_dir / "n.csv").read_text().split() == ["n", "3000"]
    back = glue_sql(f"SELECT * FROM read_csv('{out_dir / 'n.csv'}')", "--warehouse", str(warehouse),
                    "--allow-files", str(out_dir), "--format", "csv")
    assert back.returncode == 0 and back.stdout.splitlines()[1] == "3000", back.stderr
    for sql in [f"COPY (SELECT 1 AS x) TO '{warehouse}' (FORMAT csv)", "SELECT * FROM read_text('/etc/passwd')",
                f"COPY (SELECT 1 AS x) TO '{tmp_path / 'elsewhere.csv'}' (FORMAT csv)", "DROP TABLE raw_frames",
                "SET enable_external_access = true"]:
        _assert_refused(glue_sql(sql, "--warehouse", str(warehouse), "--allow-files", str(out_dir)), sql)
    assert sha256(warehouse) == before
    assert not (tmp_path / "elsewhere.csv").exists()
    missing = glue_sql("SELECT 1", "--warehouse", str(warehouse), "--allow-files", str(tmp_path / "nope"))
    _assert_refused(missing, "--allow-files missing")
