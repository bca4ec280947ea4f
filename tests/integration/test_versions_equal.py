"""Each SQL version gives the feature rows of the one before it, bit for bit, where its rules do not differ.

Every column except `sql_version` (which names the version) must be equal, every bit of every double. Both
sides run `glue.replay.replay` (v1 reads the archive line by line in Python; v2 on land whole files with
`Warehouse.land_archives`: DuckDB's read_ndjson and the version's landing macros). The pairs:

* v2 == v1: landing in SQL (v2) instead of in Python (v1);
* v3 == v2: on inputs without the two cases where v3's rules differ (a trade's duplicate landed earlier but
  stamped after the step's end; clock markers, which only v3 counts as event times); v3 also lands faster (its
  own landing macros; the raw rows are v2's: tests/sql/test_landing_v3.py);
* v4 == v3 where there is no level2 book to read (v4's only change is top of book from level2 where present:
  sql/models/intermediate/int_book_*.sql, int_grid_1s_step.v4.sql); on a simulated market with level2 it
  changes only what comes from the quote.

The inputs: a simulated market with all channels (tickers, trades, l2_data, heartbeats, acks) and data_gap
markers; a messy ticker stream (out-of-order stamps, some beyond the lateness, duplicate frames, repeated trade
ids, gaps: tests/sql/test_warehouse_exactness.messy_stream; for v4 == v3 with clock markers and an empty l2
update); the benchmark's simulated ticker day (bench/replay.py), shortened, replayed in several landing steps;
every real Coinbase capture under ../shared/data/coinbase, imported with `glue import` once per capture.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pyarrow.compute as pc
import pytest

from glue.config import FeatureSettings
from glue.replay import expand_paths, replay
from glue.warehouse import fixtures as fx
from tests.integration.featurize_support import assert_tables_bitwise_equal
from tests.integration.ingest_support import CAPTURE_SETS, SHARED_CAPTURES
from tests.sql.test_landing_v2 import write_market_archive

pytestmark = pytest.mark.slow

PAIRS = [("v1", "v2"), ("v2", "v3"), ("v3", "v4")]
PAIR_IDS = [f"{new}_equals_{old}" for old, new in PAIRS]

# feature columns that do not come from the quote: v4 must leave them as v3 computes them
NOT_FROM_QUOTE = ("ticks_1s", "has_gap_1s", "ticks_10s", "trades_10s", "volume_10s", "has_gap_60s", "ticks_300s",
                  "trades_300s", "volume_300s", "has_gap_300s", "last_price")


def features(paths: list[str], version: str) -> Any:
    """The replayed feature rows of `paths` at SQL `version`, without the `sql_version` column."""
    table, _ = replay(paths, None, FeatureSettings(sql_version=version))
    assert set(table.column("sql_version").to_pylist()) <= {version}
    return table.drop_columns(["sql_version"])


def assert_versions_equal(paths: list[str], old: str, new: str) -> None:
    before, after = features(paths, old), features(paths, new)
    assert before.num_rows > 100, before.num_rows
    assert_tables_bitwise_equal(before, after)


@pytest.mark.parametrize(("old", "new"), PAIRS[:2], ids=PAIR_IDS[:2])  # v4 reads the level2 book: the next test
def test_simulated_market_all_channels(tmp_path: Path, old: str, new: str) -> None:
    path = tmp_path / "raw" / "sim-0001.ndjson"
    write_market_archive(path, duration_s=900.0, seed=5, products=("BTC-USD", "ETH-USD", "SOL-USD"))
    assert_versions_equal([str(path)], old, new)


def test_simulated_market_with_level2_changes_only_the_quote_v4(tmp_path: Path) -> None:
    path = tmp_path / "raw" / "sim-0001.ndjson"
    write_market_archive(path, duration_s=900.0, seed=5, products=("BTC-USD", "ETH-USD"))
    v3, v4 = features([str(path)], "v3"), features([str(path)], "v4")
    assert v3.num_rows == v4.num_rows > 1000
    assert_tables_bitwise_equal(v3.select(["product_id", "second_at", *NOT_FROM_QUOTE]),
                                v4.select(["product_id", "second_at", *NOT_FROM_QUOTE]))
    # the book's top changes between tickers (sizes at the best levels, now and then the mid): v3 carried the
    # last ticker's quote through them
    for column in ("imbalance", "quote_age_s", "best_bid_qty"):
        differ = pc.sum(pc.fill_null(pc.not_equal(v3[column], v4[column]), False)).as_py()
        assert differ > 100, (column, differ)


@pytest.mark.parametrize(("old", "new"), PAIRS, ids=PAIR_IDS)
def test_messy_stream(tmp_path: Path, old: str, new: str) -> None:
    from tests.sql.test_warehouse_exactness import messy_stream, with_clocks

    path = tmp_path / "raw" / "messy-0001.ndjson"
    path.parent.mkdir(parents=True)
    records = list(messy_stream(3, 6000))
    if old == "v3":  # v3 and v4 both count clock markers; an empty l2 update moves only the event time
        records = with_clocks(records, 3)
        records.insert(10, fx.l2("BTC-USD", fx._ns("2026-01-01T00:00:02Z"), seq=0))
    path.write_text("".join(r.to_archive_line() + "\n" for r in records))
    assert_versions_equal([str(path)], old, new)


def bench_day_in_steps(tmp_path: Path, monkeypatch: Any) -> list[str]:
    """bench/replay.py's simulated ticker stream (seed 7, 40 ms mean gap), in 4 files that replay lands one step
    each; returns their paths."""
    import glue.replay

    records = list(fx.simulate_ticker_stream(60_000, seed=7, mean_gap_ms=40))
    paths = []
    for i in range(4):
        path = tmp_path / "raw" / f"day-{i:04d}.ndjson"
        path.parent.mkdir(exist_ok=True)
        part = records[i * len(records) // 4:(i + 1) * len(records) // 4]
        path.write_text("".join(r.to_archive_line() + "\n" for r in part))
        paths.append(str(path))
    monkeypatch.setattr(glue.replay, "STEP_BYTES", 1)  # one landing step per file
    return paths


@pytest.mark.parametrize(("old", "new"), PAIRS[1:], ids=PAIR_IDS[1:])  # steps land whole files: SQL landing only
def test_bench_simulated_day_in_steps(tmp_path: Path, monkeypatch: Any, old: str, new: str) -> None:
    assert_versions_equal(bench_day_in_steps(tmp_path, monkeypatch), old, new)


@pytest.fixture(scope="module", params=CAPTURE_SETS)
def imported_capture(request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory) -> list[str]:
    """One real capture set imported with the project's importer (once per capture): its archive files."""
    from glue.importer import import_captures

    out = tmp_path_factory.mktemp(f"imported-{request.param}")
    import_captures([str(SHARED_CAPTURES / request.param)], str(out))
    return expand_paths([str(out)])


@pytest.mark.skipif(not CAPTURE_SETS, reason=f"real captures not present at {SHARED_CAPTURES}")
@pytest.mark.parametrize(("old", "new"), PAIRS, ids=PAIR_IDS)
def test_real_capture(imported_capture: list[str], old: str, new: str) -> None:
    assert_versions_equal(imported_capture, old, new)
