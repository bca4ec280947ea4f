"""The input transform, the HAR baseline, the relative label and the small/odd-data errors (no I/O)."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from glue.errors import DataError
from glue.modeling import labels as lab
from glue.modeling.inputs import HAR_GROUPS, ModelInputs, is_level, recipe
from glue.testing.models import fast_settings, features_frame


def test_recipe_drops_levels_and_keeps_scale_free_inputs():
    cols = ["mid_price", "last_price", "spread_abs", "spread_bps", "best_bid_qty", "rv_10s_bps", "rv_60s_bps",
            "vol_60s_bps", "ticks_per_s_60s", "ticks_60s", "imbalance", "has_gap_60s", "n_ret_60s", "volume_60s"]
    names = [r[0] for r in recipe(cols)]
    assert "log_rv_10s" in names and "log_rv_ratio_10_60s" in names and "log_ticks_per_s_60s" in names
    assert "log_since_gap_s" in names and "frac_ret_60s" in names and "log_spread_bps" in names
    assert not [n for n in names if n.startswith("log_spread_mean")]  # 0.01 / price on one-tick spreads
    assert not [n for n in names if is_level(n) or "vol_60s" in n or "volume" in n]
    assert [r[0] for r in recipe(cols, HAR_GROUPS)] == ["log_rv_10s", "log_rv_60s"]


def test_fit_drops_constant_missing_and_duplicate_inputs():
    rng = np.random.default_rng(0)
    rv = np.exp(rng.normal(0, 1, 500))
    cols = ["rv_10s_bps", "rv_60s_bps", "ticks_per_s_60s", "trades_per_s_60s", "imbalance"]
    X = np.column_stack([rv, rv * 2.0, rng.poisson(3, 500), np.zeros(500), np.full(500, np.nan)])
    inputs = ModelInputs(cols).fit(X)
    assert "log_rv_10s" in inputs.names_
    assert "log_rv_60s" not in inputs.names_  # an exact multiple: duplicate in logs
    assert "log_trades_per_s_60s" not in inputs.names_ and "imbalance" not in inputs.names_
    assert len(inputs.dropped_) >= 3  # rv_60s, trades, imbalance (each with its reason)


def test_no_rv_column_is_a_clear_error():
    with pytest.raises(DataError, match="rv_"):
        ModelInputs(["spread_bps"]).fit(np.ones((10, 1)))


def _grid(seconds: int, rv300: float = 1.0, gap: tuple[int, int] | None = None) -> pd.DataFrame:
    t = pd.Timestamp("2026-01-01") + pd.to_timedelta(np.arange(seconds), unit="s")
    df = pd.DataFrame({"product_id": "BTC-USD", "second_at": t.astype("datetime64[us]"),
                       "rv_300s_bps": rv300, "n_ret_300s": 300, "sigma_future_bps": 0.1})
    df.loc[df.index < 299, "n_ret_300s"] = df.index[df.index < 299] + 1  # warm-up
    if gap:
        df = df[(df.index < gap[0]) | (df.index >= gap[1])].reset_index(drop=True)
    return df


def test_reference_is_complete_only_after_the_window_and_uses_no_future_rows():
    df = _grid(4000)
    ref = lab.reference_vol(df, ref_s=1800)
    # complete from the first second whose six 300 s windows hold >= 90 % valid returns
    first = int(np.flatnonzero(np.isfinite(ref))[0])
    assert 1500 <= first < 1800
    # RMS of returns: rv_300^2 * 6 / (6 * 300) -> 1 / sqrt(300)
    assert ref[3000] == pytest.approx(1.0 / np.sqrt(300.0))
    # changing rows after t never changes the reference at t
    later = df.copy()
    later.loc[later.index > 3000, "rv_300s_bps"] = 50.0
    assert lab.reference_vol(later, 1800)[3000] == ref[3000]
    assert lab.reference_vol(later, 1800)[3301] != ref[3301]


def test_reference_incomplete_across_a_long_gap():
    df = _grid(5000, gap=(2500, 2900))
    ref = lab.reference_vol(df, 1800)
    after = df["second_at"] >= pd.Timestamp("2026-01-01") + pd.Timedelta(seconds=2900)
    within = after & (df["second_at"] < pd.Timestamp("2026-01-01") + pd.Timedelta(seconds=2900 + 1500))
    assert np.isnan(ref[within.to_numpy()]).all()  # 400 s missing of 1800: under 90 % cover


def test_relative_label_k_from_train_and_ties():
    ratio_train = np.array([1.0, 1.0, 2.0, 2.0, np.nan])
    k = lab.fit_k(ratio_train, 0.5)
    assert k == 1.5
    assert lab.apply_k(np.array([1.5, 1.49, 2.0]), k).tolist() == [1, 0, 1]  # a tie with k is a spike
    with pytest.raises(DataError, match="reference"):
        lab.fit_k(np.array([np.nan]), 0.9)
    # k does not move when test-period ratios change (fitted on train only)
    assert lab.fit_k(np.r_[ratio_train, 100.0][:5], 0.5) == k


def test_one_class_validation_is_one_line(tmp_path):
    from glue.modeling.fitting import run_training

    df = features_frame(seconds=3600)
    val_start = df["second_at"].quantile(0.55)
    df.loc[df["second_at"] >= val_start, "sigma_future_bps"] = 0.0  # a quiet tail: no spike to validate on
    with pytest.raises(DataError, match="only one class") as exc:
        run_training(df, fast_settings(tmp_path), families=("logreg",))
    assert "\n" not in str(exc.value)


def test_small_capture_is_one_line(tmp_path):
    from glue.modeling.fitting import run_training

    df = features_frame(seconds=400)
    with pytest.raises(DataError) as exc:
        run_training(df, fast_settings(tmp_path), families=("logreg", "hgb"))
    assert "\n" not in str(exc.value)


def test_all_missing_column_is_dropped_with_a_line(tmp_path, caplog):
    from glue.modeling.fitting import run_training

    df = features_frame(seconds=3600)
    df["spread_bps"] = np.nan
    with caplog.at_level("INFO", logger="glue.modeling.inputs"):
        result = run_training(df, fast_settings(tmp_path), families=("logreg", "hgb"))
    assert "log_spread_bps (constant or all missing in training)" in caplog.text
    assert result.chosen in result.models


def test_champion_is_never_a_constant(tmp_path):
    from glue.modeling.fitting import run_training
    from glue.modeling.results import HAR, PERSISTENCE

    df = features_frame(seconds=3600)
    result = run_training(df, fast_settings(tmp_path), shuffle_train_labels=True, families=("logreg",))
    assert result.chosen in (PERSISTENCE, HAR, "logreg")
    chosen = result.models[result.chosen]
    assert np.unique(chosen.p_test).size > 1  # a calibrated ranking, not the base rate
    if result.chosen in (PERSISTENCE, HAR):
        assert "NO ML MODEL IS REGISTERED" in result.verdict


def _result(name: str, kind: str, val_pr_auc: float, lift: tuple[float, float] | None = None):
    from glue.modeling.results import ModelResult

    r = ModelResult(name, kind, None, {}, np.linspace(0, 1, 10), np.linspace(0, 1, 10))
    r.val = {"pr_auc": val_pr_auc}
    if lift:
        r.val_lift = {"baseline": "baseline_har", "estimate": val_pr_auc - 0.30, "ci_low": lift[0], "ci_high": lift[1]}
    return r


@pytest.mark.parametrize(("lift", "chosen"), [((-0.02, 0.06), "baseline_har"), ((0.01, 0.06), "logreg")])
def test_ml_is_champion_only_when_its_validation_lift_interval_is_above_zero(lift, chosen):
    from glue.modeling.fitting import choose_model

    models = {"baseline_persistence": _result("baseline_persistence", "baseline", 0.25),
              "baseline_har": _result("baseline_har", "baseline", 0.30),
              "logreg": _result("logreg", "ml", 0.32, lift)}
    assert choose_model(models) == chosen  # a point win (0.32 > 0.30) is not enough on its own
    models["logreg"].val_lift = {}
    assert choose_model(models) == "baseline_har"  # no interval computed: no evidence, no ML champion


def test_the_ml_pick_is_the_best_on_validation_and_hgb_must_lead_by_its_margin():
    from glue.modeling.fitting import best_ml
    from glue.modeling.results import HGB_MARGIN

    models = {"logreg": _result("logreg", "ml", 0.30), "hgb": _result("hgb", "ml", 0.30 + HGB_MARGIN / 2),
              "forecast": _result("forecast", "ml", 0.29)}
    assert best_ml(models) == "logreg"
    models["forecast"].val = {"pr_auc": 0.31}
    assert best_ml(models) == "forecast"
    models["hgb"].val = {"pr_auc": 0.31 + 2 * HGB_MARGIN}
    assert best_ml(models) == "hgb"
    assert best_ml({"baseline_har": _result("baseline_har", "baseline", 0.5)}) is None


def test_validation_lift_reads_validation_only(tmp_path):
    from glue.modeling.fitting import run_training

    df = features_frame(seconds=3600)
    result = run_training(df, fast_settings(tmp_path), families=("logreg",))
    lift = result.models["logreg"].val_lift
    assert lift["baseline"] in ("baseline_har", "baseline_persistence")
    assert lift["ci_low"] <= lift["estimate"] <= lift["ci_high"]
    changed = df.copy()
    test_rows = changed["second_at"] >= pd.Timestamp(result.split["test_start_at"])
    changed.loc[test_rows, "sigma_future_bps"] *= 10.0
    again = run_training(changed, fast_settings(tmp_path), families=("logreg",))
    assert again.models["logreg"].val_lift == lift and again.chosen == result.chosen


def test_the_validation_lift_interval_is_widened_for_picking_the_best_of_the_ml_models(tmp_path):
    # the ML pick is the best of m models on the same validation rows: testing only the winner at 90 %
    # would let one of m noise models through about m times as often (Bonferroni: 1 - 0.10 / m)
    from glue.modeling.fitting import run_training
    from glue.modeling.results import level_text, val_lift_level

    assert val_lift_level(1) == pytest.approx(0.90)
    assert val_lift_level(3) == pytest.approx(1 - 0.10 / 3)
    assert level_text(val_lift_level(1)) == "90 %" and level_text(val_lift_level(3)) == "96.7 %"
    df = features_frame(seconds=3600)
    one = run_training(df, fast_settings(tmp_path), families=("logreg",)).models["logreg"].val_lift
    two = run_training(df, fast_settings(tmp_path), families=("logreg", "forecast")).models["logreg"].val_lift
    assert one["level"] == pytest.approx(0.90) and two["level"] == pytest.approx(0.95)
    assert one["estimate"] == two["estimate"]
    assert two["ci_low"] <= one["ci_low"] and two["ci_high"] >= one["ci_high"]  # same draws, wider percentiles
