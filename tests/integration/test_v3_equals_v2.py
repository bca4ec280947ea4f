"""SQL v3 gives the feature rows of v2, bit for bit, on inputs without the two cases where v3's rules differ (a
trade's duplicate landed earlier but stamped after the step's end; clock markers, which only v3 counts as event
times): none of these inputs has either.

v3 also lands faster (its own sql/v3/005_landing.sql; the raw rows are v2's: tests/sql/test_landing_v3.py).
Every column except `sql_version` must be equal, every bit of every double, on
* a simulated market with all channels (tickers, trades, l2_data, heartbeats, acks) and data_gap markers;
* a messy ticker stream (out-of-order stamps, some beyond the lateness, duplicate frames, repeated trade ids,
  gaps: tests/sql/test_warehouse_exactness.messy_stream);
* the benchmark's simulated ticker day (bench/replay.py), shortened, replayed in several landing steps;
* every real Coinbase capture under ../shared/data/coinbase, imported with `glue import`.
Both sides run `glue.replay.replay` (whole files landed with `Warehouse.land_archives`).
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from glue.testing.captures import CAPTURE_SETS, SHARED_CAPTURES
from glue.testing.featurize import assert_tables_bitwise_equal
from glue.testing.landing import write_market_archive
from glue.warehouse import fixtures as fx
from tests.integration.test_v2_equals_v1 import features, imported_capture  # noqa: F401  (fixture)

pytestmark = pytest.mark.slow


def assert_v3_equals_v2(paths: list[str]) -> None:
    v2, v3 = features(paths, "v2"), features(paths, "v3")
    assert v2.num_rows > 100, v2.num_rows
    assert_tables_bitwise_equal(v2, v3)


def test_simulated_market_all_channels(tmp_path: Path) -> None:
    path = tmp_path / "raw" / "sim-0001.ndjson"
    write_market_archive(path, duration_s=900.0, seed=5, products=("BTC-USD", "ETH-USD", "SOL-USD"))
    assert_v3_equals_v2([str(path)])


def test_messy_stream(tmp_path: Path) -> None:
    from glue.testing.streams import messy_stream

    path = tmp_path / "raw" / "messy-0001.ndjson"
    path.parent.mkdir(parents=True)
    path.write_text("".join(r.to_archive_line() + "\n" for r in messy_stream(3, 6000)))
    assert_v3_equals_v2([str(path)])


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


def test_bench_simulated_day_in_steps(tmp_path: Path, monkeypatch: Any) -> None:
    assert_v3_equals_v2(bench_day_in_steps(tmp_path, monkeypatch))


@pytest.mark.skipif(not CAPTURE_SETS, reason=f"real captures not present at {SHARED_CAPTURES}")
def test_real_capture(imported_capture: list[str]) -> None:  # noqa: F811  (the imported fixture)
    assert_v3_equals_v2(imported_capture)
