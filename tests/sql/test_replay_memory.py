"""Replay's bounded-memory steps give the same rows: finalize in prefixes of max_rows product-seconds equals one
finalize (grid, features, level2 book, bit for bit), and the streamed Parquet output equals the table."""

from __future__ import annotations

from pathlib import Path

import pyarrow.parquet as pq
import pytest

from glue.config import FeatureSettings
from glue.replay import FEATURES_QUERY, LABELS_QUERY, replay, write_features, write_sorted
from glue.testing import fixtures as fx
from glue.testing.books import book_stream
from glue.warehouse import Warehouse

V4 = FeatureSettings(sql_version="v4")


def _tables(wh: Warehouse) -> dict:
    out = {name: wh.con.sql(f"SELECT * FROM {name} ORDER BY ALL").to_arrow_table()
           for name in ("int_book_levels", "int_book_state", "int_grid_1s")}
    out["features"] = wh.features()
    out["labels"] = wh.labels()
    return out


def _run(records, max_rows: int | None, fs: FeatureSettings) -> dict:
    with Warehouse.open(":memory:", fs) as wh:
        half = len(records) // 2
        for part in (records[:half], records[half:]):
            wh.land(part)
            if max_rows is None:
                wh.finalize()
            else:
                steps = 0
                while wh.final_ranges():
                    assert wh.finalize(max_rows=max_rows, return_rows=False) is None
                    steps += 1
                assert steps >= 1
        return _tables(wh)


@pytest.mark.parametrize("max_rows", [7, 333])
def test_prefix_finalize_equals_one_finalize_with_level2_gaps_and_late_frames(max_rows: int) -> None:
    records = book_stream(11, 1500)
    assert _run(records, max_rows, V4) == _run(records, None, V4)


def test_prefix_finalize_equals_one_finalize_on_products_with_different_holes() -> None:
    day = 86_400 * 10**9
    a = list(fx.simulate_ticker_stream(3000, products=("BTC-USD",), seed=3, mean_gap_ms=200))
    b = list(fx.simulate_ticker_stream(3000, products=("ETH-USD",), seed=4, mean_gap_ms=200,
                                       start_ns=1_767_225_600 * 10**9 + 2 * day))
    records = sorted(a + b, key=lambda r: r.recv_ns)
    fs = FeatureSettings()
    assert _run(records, 500, fs) == _run(records, None, fs)


def test_streamed_output_equals_the_tables(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    import glue.replay as gr

    records = list(fx.simulate_ticker_stream(4000, seed=5, mean_gap_ms=300))
    with Warehouse.open(":memory:", FeatureSettings()) as wh:
        wh.land(records)
        wh.finalize()
        monkeypatch.setattr(gr, "OUT_ROWS", 97)  # many row groups, windows cut inside products
        monkeypatch.setattr(gr, "FEATURE_WINDOW_S", 101)
        assert write_features(wh.con, str(tmp_path / "f.parquet")) == wh.features().num_rows
        assert write_sorted(wh.con, LABELS_QUERY, str(tmp_path / "l.parquet")) == wh.labels().num_rows
        assert pq.read_table(tmp_path / "f.parquet").equals(wh.features())
        assert pq.read_table(tmp_path / "l.parquet").equals(wh.labels())
        assert pq.read_table(tmp_path / "f.parquet").equals(wh.con.sql(FEATURES_QUERY).to_arrow_table())


def test_replay_writes_the_same_bytes_with_or_without_the_table(tmp_path: Path) -> None:
    path = tmp_path / "a.ndjson"
    path.write_text("".join(r.to_archive_line() + "\n" for r in fx.simulate_ticker_stream(3000, seed=9)))
    kept, _ = replay([str(path)], str(tmp_path / "1.parquet"), FeatureSettings(), spill_dir=str(tmp_path))
    none, stats = replay([str(path)], str(tmp_path / "2.parquet"), FeatureSettings(), spill_dir=str(tmp_path),
                         keep_table=False)
    assert none is None and stats.rows == kept.num_rows > 0
    assert (tmp_path / "1.parquet").read_bytes() == (tmp_path / "2.parquet").read_bytes()
    assert pq.read_table(tmp_path / "1.parquet").equals(kept)
