"""The model inputs on the demo market: no price level, no two columns correlated above 0.999.

The demo market is the project's simulator (`models/sim_archive.py`, all four channels) replayed through
the current SQL version: the very feature rows `glue demo` trains on.
"""

from __future__ import annotations

import numpy as np
import pytest

from glue.modeling.data import feature_columns, feature_matrix
from glue.modeling.inputs import MAX_ABS_CORR, ModelInputs, is_level

pytestmark = pytest.mark.slow


@pytest.fixture(scope="module")
def demo_rows(tmp_path_factory):
    from glue.config import FeatureSettings
    from glue.replay import replay
    from models.sim_archive import write_sim_archive

    tmp = tmp_path_factory.mktemp("demo")
    archive = tmp / "raw" / "sim.ndjson"
    write_sim_archive(archive, minutes=20, book_levels=10)
    table, _ = replay([str(archive)], None, FeatureSettings())
    return table.to_pandas()


def test_inputs_hold_no_price_level_and_no_duplicates(demo_rows):
    columns = feature_columns(demo_rows)
    assert any(is_level(c) for c in columns), "the demo rows carry price levels; the transform must drop them"
    X = feature_matrix(demo_rows, columns)
    inputs = ModelInputs(columns).fit(X)
    Z = inputs.transform(X)
    names = list(inputs.names_)
    assert Z.shape == (len(demo_rows), len(names)) and len(names) >= 10
    assert not [n for n in names if is_level(n)]
    # every input is a function of the rows' own columns, none is a raw level: check against the levels too
    levels = [columns.index(c) for c in ("mid_price", "last_price") if c in columns]
    for j in range(Z.shape[1]):
        for li in levels:
            ok = np.isfinite(Z[:, j]) & np.isfinite(X[:, li])
            if ok.sum() > 2 and Z[ok, j].std() > 0:
                assert abs(np.corrcoef(Z[ok, j], X[ok, li])[0, 1]) < MAX_ABS_CORR, names[j]
    for a in range(Z.shape[1]):
        for b in range(a + 1, Z.shape[1]):
            ok = np.isfinite(Z[:, a]) & np.isfinite(Z[:, b])
            if ok.sum() > 2 and Z[ok, a].std() > 0 and Z[ok, b].std() > 0:
                r = abs(np.corrcoef(Z[ok, a], Z[ok, b])[0, 1])
                assert r <= MAX_ABS_CORR, f"{names[a]} and {names[b]} correlated {r:.5f}"


def test_inputs_are_row_local_and_deterministic(demo_rows):
    columns = feature_columns(demo_rows)
    X = feature_matrix(demo_rows, columns)
    inputs = ModelInputs(columns).fit(X)
    whole = inputs.transform(X)
    one_by_one = np.vstack([inputs.transform(X[i : i + 1]) for i in range(0, len(X), max(1, len(X) // 50))])
    np.testing.assert_array_equal(whole[:: max(1, len(X) // 50)][: len(one_by_one)], one_by_one)
