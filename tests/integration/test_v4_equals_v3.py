"""SQL v4 gives the feature rows of v3, bit for bit, where there is no level2 book to read (v4's only change is
top of book from level2 where present: sql/v4/015_book.sql, sql/v4/020_grid.sql), and on a simulated market
with level2 it changes only what comes from the quote.

Every column except `sql_version` must be equal, every bit of every double, on
* a messy ticker stream with clock markers and empty l2 updates (tests/sql/test_warehouse_exactness);
* the benchmark's simulated ticker day (bench/replay.py), shortened, replayed in several landing steps;
* every real Coinbase capture under ../shared/data/coinbase (ticker only), imported with `glue import`.
Both sides run `glue.replay.replay` (whole files landed with `Warehouse.land_archives`).
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pyarrow.compute as pc
import pytest

from glue.testing.captures import CAPTURE_SETS, SHARED_CAPTURES
from glue.testing.featurize import assert_tables_bitwise_equal
from glue.testing.landing import write_market_archive
from glue.warehouse import fixtures as fx
from tests.integration.test_v2_equals_v1 import features, imported_capture  # noqa: F401  (fixture)
from tests.integration.test_v3_equals_v2 import bench_day_in_steps

pytestmark = pytest.mark.slow

# feature columns that do not come from the quote: v4 must leave them as v3 computes them
NOT_FROM_QUOTE = ("ticks_1s", "has_gap_1s", "ticks_10s", "trades_10s", "volume_10s", "has_gap_60s", "ticks_300s",
                  "trades_300s", "volume_300s", "has_gap_300s", "last_price")


def assert_v4_equals_v3(paths: list[str]) -> None:
    v3, v4 = features(paths, "v3"), features(paths, "v4")
    assert v3.num_rows > 100, v3.num_rows
    assert_tables_bitwise_equal(v3, v4)


def test_messy_stream_with_clocks(tmp_path: Path) -> None:
    from glue.testing.streams import messy_stream, with_clocks

    path = tmp_path / "raw" / "messy-0001.ndjson"
    path.parent.mkdir(parents=True)
    records = with_clocks(messy_stream(3, 6000), 3)
    records.insert(10, fx.l2("BTC-USD", fx._ns("2026-01-01T00:00:02Z"), seq=0))
    path.write_text("".join(r.to_archive_line() + "\n" for r in records))
    assert_v4_equals_v3([str(path)])


def test_bench_simulated_day_in_steps(tmp_path: Path, monkeypatch: Any) -> None:
    assert_v4_equals_v3(bench_day_in_steps(tmp_path, monkeypatch))


@pytest.mark.skipif(not CAPTURE_SETS, reason=f"real captures not present at {SHARED_CAPTURES}")
def test_real_capture(imported_capture: list[str]) -> None:  # noqa: F811  (the imported fixture)
    assert_v4_equals_v3(imported_capture)


def test_simulated_market_with_level2_changes_only_the_quote(tmp_path: Path) -> None:
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
