"""SQL v2 (landing in SQL) gives the feature rows of the released v1 (landing in Python), bit for bit.

Every column except `sql_version` (which names the version) must be equal, every bit of every double, on
* a simulated market with all channels (tickers, trades, l2_data, heartbeats, acks) and data_gap markers;
* a messy ticker stream (out-of-order stamps, some beyond the lateness, duplicate frames, repeated trade ids,
  gaps: tests/sql/test_warehouse_exactness.messy_stream);
* every real Coinbase capture under ../shared/data/coinbase, imported with `glue import` (as
  test_featurize_captures does) once per capture (module-scoped fixture) and replayed whole, both versions.
Both sides run `glue.replay.replay`: v1 reads the archive line by line in Python, v2 lands whole files with
`Warehouse.land_archives` (DuckDB's read_ndjson and the v2 landing macros).
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from glue.config import FeatureSettings
from glue.replay import expand_paths, replay
from glue.testing.captures import CAPTURE_SETS, SHARED_CAPTURES
from glue.testing.featurize import assert_tables_bitwise_equal
from glue.testing.landing import write_market_archive

pytestmark = pytest.mark.slow


def features(paths: list[str], version: str) -> Any:
    """The replayed feature rows of `paths` at SQL `version`, without the `sql_version` column."""
    table, _ = replay(paths, None, FeatureSettings(sql_version=version))
    assert set(table.column("sql_version").to_pylist()) <= {version}
    return table.drop_columns(["sql_version"])


def assert_v2_equals_v1(paths: list[str]) -> None:
    v1, v2 = features(paths, "v1"), features(paths, "v2")
    assert v1.num_rows > 100, v1.num_rows
    assert_tables_bitwise_equal(v1, v2)


def test_simulated_market_all_channels(tmp_path: Path) -> None:
    path = tmp_path / "raw" / "sim-0001.ndjson"
    write_market_archive(path, duration_s=900.0, seed=5, products=("BTC-USD", "ETH-USD", "SOL-USD"))
    assert_v2_equals_v1([str(path)])


def test_messy_stream(tmp_path: Path) -> None:
    from glue.testing.streams import messy_stream

    path = tmp_path / "raw" / "messy-0001.ndjson"
    path.parent.mkdir(parents=True)
    path.write_text("".join(r.to_archive_line() + "\n" for r in messy_stream(3, 6000)))
    assert_v2_equals_v1([str(path)])


@pytest.fixture(scope="module", params=CAPTURE_SETS)
def imported_capture(request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory) -> list[str]:
    """One real capture set imported with the project's importer (once per capture): its archive files."""
    from glue.importer import import_captures

    out = tmp_path_factory.mktemp(f"imported-{request.param}")
    import_captures([str(SHARED_CAPTURES / request.param)], str(out))
    return expand_paths([str(out)])


@pytest.mark.skipif(not CAPTURE_SETS, reason=f"real captures not present at {SHARED_CAPTURES}")
def test_real_capture(imported_capture: list[str]) -> None:
    assert_v2_equals_v1(imported_capture)
