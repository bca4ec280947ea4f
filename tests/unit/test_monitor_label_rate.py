"""`glue monitor` reports the rate of the model's own label: tau for assignment models, k for relative ones."""

from types import SimpleNamespace

import numpy as np
import pandas as pd

from glue.monitor import label_rate, rates


def frame() -> pd.DataFrame:
    return pd.DataFrame({
        "product_id": ["BTC-USD"] * 5,
        "second_at": pd.date_range("2026-01-01", periods=5, freq="s", tz="UTC"),
        "sigma_future_bps": [1.0, 3.0, 2.0, 9.0, np.nan],
        "rv_600s_bps": np.sqrt(600) * np.array([1.0, 1.0, 2.0, 1.0, 1.0]),  # sqrt(sum q^2): RMS x sqrt(n)
        "n_ret_600s": [600, 600, 600, 100, 600],  # the 4th row's reference is incomplete: no relative label
    })


def scorer(**kw) -> SimpleNamespace:
    base = {"label": "assignment", "tau_bps": {"*": 2.5}, "k": None, "reference_s": 600,
            "predict": lambda df: np.zeros(len(df), dtype=int)}
    return SimpleNamespace(**{**base, **kw})


def test_assignment_rate_is_at_tau():
    assert label_rate(frame(), scorer()) == 0.5  # 3.0 and 9.0 of the 4 rows with sigma_future


def test_relative_rate_is_at_k_over_rows_with_a_complete_reference():
    # ratios 1.0, 3.0, 1.0 (row 4 incomplete, row 5 no sigma_future): one of three >= k = 1.5, whatever tau says
    assert label_rate(frame(), scorer(label="relative", k=1.5, tau_bps={"*": 0.1})) == 1 / 3
    r = rates(frame(), frame().iloc[:2], scorer(label="relative", k=1.5))
    assert r["label_rate"] == {"reference": 1 / 3, "current": 0.5}
