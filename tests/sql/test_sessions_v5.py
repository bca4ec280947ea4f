"""SQL v5 sessions: grid rows only within sessions, replay == live across holes of seconds to weeks, v5 equals
v4 on every second it keeps (where no window reaches back past a session start after a hole).

The fixture cases (sql/tests/intermediate/int_grid_1s.yml, "v5 - ...") pin the rules on small inputs; these
tests put them under messy streams with holes of 3 s, 2 h and 30 days between them.
"""

from __future__ import annotations

import itertools
import re
from pathlib import Path

import pyarrow as pa
import pyarrow.compute as pc
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from glue.config import FeatureSettings
from glue.testing.streams import FS, cut_and_restart, event_ns, holey_stream, one_shot, with_clocks
from glue.warehouse import Warehouse

V5 = FeatureSettings(lateness_s=2, sql_version="v5")
V4 = FeatureSettings(lateness_s=2, sql_version="v4")


def _land(records: list, fs: FeatureSettings) -> tuple[pa.Table, pa.Table]:
    with Warehouse.open(":memory:", fs) as wh:
        wh.land(records)
        wh.finalize()
        return wh.features(), wh.con.sql("SELECT * FROM lbl_labels_1s ORDER BY product_id, second_at").to_arrow_table()


def test_no_row_inside_a_hole_and_rows_follow_the_data() -> None:
    records = holey_stream(3, 300)
    features, _ = _land(records, V5)
    seconds = pc.divide(pc.cast(features["second_at"], pa.int64()), 10**6).to_pylist()
    # each part spans about 300 records x 120 ms = 36 s per product: the 30-day hole adds no rows
    assert features.num_rows < 4 * 2 * 60
    per_part_first = sorted({s for s in seconds})
    assert per_part_first[-1] - per_part_first[0] > 30 * 86400
    # the sessions: a new one after each hole, every row of a session consecutive
    starts = set(zip(features["product_id"].to_pylist(), features["session_start_at"].to_pylist(), strict=True))
    assert len(starts) >= 2 * 4  # two products, four parts (plus the messy stream's own 3-s gaps)
    table = features.select(["product_id", "second_at", "session_start_at", "session_age_s"]).to_pylist()
    for prev, row in itertools.pairwise(table):
        if row["product_id"] == prev["product_id"] and row["session_start_at"] == prev["session_start_at"]:
            assert (row["second_at"] - prev["second_at"]).total_seconds() == 1
            assert row["session_age_s"] == prev["session_age_s"] + 1
        else:
            assert row["session_age_s"] == 0
    # no row's second lies inside a hole between the parts
    frames = [event_ns(r) for r in records if r.frame]
    gaps = [(r.marker["from_ns"], r.marker["to_ns"]) for r in records
            if r.marker and r.marker["type"] == "data_gap" and r.marker["reason"] == "restart"]  # between parts
    assert len(gaps) == 3 * 2 and frames
    for lo, hi in gaps:
        inside = [s for s in seconds if lo <= (s - 1) * 10**9 and s * 10**9 <= hi]
        assert not inside


@pytest.mark.slow
@settings(max_examples=5, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(seed=st.integers(0, 10_000), cuts=st.lists(st.integers(1, 150), min_size=1, max_size=25),
       restarts=st.sets(st.integers(0, 25), max_size=4))
def test_holes_any_batching_and_restarts_equal_one_shot(tmp_path: Path, seed: int, cuts: list[int],
                                                        restarts: set[int]) -> None:
    records = with_clocks(holey_stream(seed, 150), seed)
    path = tmp_path / f"wh-holes-{seed}-{len(cuts)}-{len(restarts)}.duckdb"
    path.unlink(missing_ok=True)
    live = cut_and_restart(records, path, cuts, restarts, V5)
    with Warehouse.open(":memory:", V5) as wh:
        wh.land(records)
        wh.finalize()
        replay = wh.features()
    assert live.num_rows > 0
    assert live.equals(replay)


def test_v5_equals_v4_on_the_seconds_it_keeps() -> None:
    # holes short enough for v4's calendar grid to stay small
    records = holey_stream(5, 400, holes_s=(3, 40, 900))
    f5, l5 = _land(records, V5)
    f4, l4 = _land(records, V4)
    assert f5.num_rows < f4.num_rows  # the holes' seconds are gone
    common = [c for c in f4.column_names if c != "sql_version"]
    key = ["product_id", "second_at"]
    joined = f5.select([*common, "session_start_at", "session_age_s"]).join(
        f4.select(common), keys=key, join_type="inner", right_suffix="_v4")
    assert joined.num_rows == f5.num_rows  # every v5 row is a v4 row
    first = {p: min(r["second_at"] for r in f5.select(key).to_pylist() if r["product_id"] == p)
             for p in set(f5["product_id"].to_pylist())}
    rows = joined.to_pylist()
    # a window of W s inside the session (or from the product's first second, where v4 starts too): same bits
    window = {c: int(m.group(1)) for c in common if (m := re.search(r"_(\d+)s(_bps)?$", c))}
    compared = 0
    for r in rows:
        first_session = r["session_start_at"] == first[r["product_id"]]
        for c in common:
            if c in key or (c in window and not first_session and r["session_age_s"] < window[c]):
                continue
            a, b = r[c], r[f"{c}_v4"]
            assert a == b or (a != a and b != b), (c, r["product_id"], r["second_at"], a, b)
            compared += 1
    assert compared > 10_000
    # every row: the same quote and the same forward volatility (no 60 s horizon crosses a hole in either)
    for r in rows:
        for c in ("mid_price", "last_price", "spread_abs", "has_gap_1s", "quote_age_s", "ticks_1s"):
            assert r[c] == r[f"{c}_v4"] or (r[c] != r[c] and r[f"{c}_v4"] != r[f"{c}_v4"]), (c, r)
    s5 = {(r["product_id"], r["second_at"]): r["sigma_future_bps"] for r in l5.to_pylist()}
    s4 = {(r["product_id"], r["second_at"]): r["sigma_future_bps"] for r in l4.to_pylist()}
    assert {k: v for k, v in s4.items() if k in s5} == s5


def test_the_default_stream_is_v5_now() -> None:
    # the exactness suite (test_warehouse_exactness) lands with FS at the current version
    assert one_shot(holey_stream(1, 100))["sql_version"].unique().to_pylist() == ["v5"]
    assert FS.sql_version in ("", "v5")


def test_replay_steps_skip_the_holes_and_give_the_same_rows() -> None:
    records = holey_stream(7, 300)
    with Warehouse.open(":memory:", V5) as wh:
        wh.land(records)
        steps = 0
        while wh.final_ranges():
            wh.finalize(max_rows=200, return_rows=False)  # 100 product-seconds per step and product
            steps += 1
        stepped = wh.features()
    # a month of calendar in steps of 100 s would be ~26,000 steps; the kept seconds need a handful
    assert steps < 20
    with Warehouse.open(":memory:", V5) as wh:
        wh.land(records)
        wh.finalize()
        assert stepped.equals(wh.features())
