"""`glue monitor`'s drift method for what the model sees, on autocorrelated data (real Evidently, no mocks).

A strongly autocorrelated but unchanged series (AR(1), phi = 0.99) is flagged by a p-value test on every
row (it takes 10,000 dependent seconds for 10,000 independent draws); the monitor's documented choice,
PSI >= 0.25 on rows thinned to one per THIN_S seconds, does not flag it, and still flags a real shift.
"""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
from scipy.signal import lfilter

from glue.monitor import INPUT_METHOD, INPUT_THRESHOLD, THIN_S, DriftSummary, compare, what_matters

pytestmark = pytest.mark.slow


def _frame(x: np.ndarray, start: str) -> pd.DataFrame:
    t = pd.Timestamp(start) + pd.to_timedelta(np.arange(len(x)), unit="s")
    return pd.DataFrame({"product_id": "BTC-USD", "second_at": t.astype("datetime64[us]"), "x": x})


def _ar1(n: int, seed: int) -> np.ndarray:
    rng = np.random.default_rng(seed)
    return lfilter([1.0], [1.0, -0.99], rng.normal(0, 1, n)) * np.sqrt(1 - 0.99**2)


def test_psi_on_thinned_rows_fits_autocorrelated_data(tmp_path):
    x = _ar1(20_000, seed=3)
    ref, cur = _frame(x[:10_000], "2026-01-01"), _frame(x[10_000:], "2026-01-01T02:46:40")
    naive = compare("naive", ref, cur, ["x"], tmp_path, "early", "late", "ks", 0.05)
    assert [d["column"] for d in naive.drifted] == ["x"]  # the i.i.d. test sees drift that is not there
    thin_ref, thin_cur = ref.iloc[::THIN_S], cur.iloc[::THIN_S]
    ours = compare("ours", thin_ref, thin_cur, ["x"], tmp_path, "early", "late", INPUT_METHOD, INPUT_THRESHOLD)
    assert ours.drifted == []
    shifted = thin_cur.assign(x=thin_cur["x"] + 1.5)
    real = compare("real", thin_ref, shifted, ["x"], tmp_path, "early", "late", INPUT_METHOD, INPUT_THRESHOLD)
    assert [d["column"] for d in real.drifted] == ["x"]


def test_what_matters_is_the_label_and_alert_rates():
    s = DriftSummary("inputs_x", "a", "b", 1, 1, 1, drifted=[{"column": "log_rv_60s"}],
                     rates={"label_rate": {"reference": 0.10, "current": 0.31},
                            "alert_rate": {"reference": 0.05, "current": 0.06}})
    said = what_matters(s)
    assert any("no longer means the" in line for line in said)
    assert not any("alert rate" in line for line in said)
    assert any("log_rv_60s" in line for line in said)
    quiet = DriftSummary("inputs_x", "a", "b", 1, 1, 1, drifted=[{"column": "log_rv_60s"}],
                         rates={"alert_rate": {"reference": 0.05, "current": 0.06}})
    assert what_matters(quiet) == []  # input drift the model absorbs is not worth an alarm
