"""The cross-capture protocol of `glue evaluate`: folds, sessions, budget precision, the card section."""

from __future__ import annotations

import numpy as np
import pandas as pd

from glue.modeling import crossval as cv


def _capture(start: str, seconds: int, holes: tuple[int, ...] = ()) -> pd.DataFrame:
    t = pd.Timestamp(start) + pd.to_timedelta(np.arange(seconds), unit="s")
    df = pd.DataFrame({"product_id": "BTC-USD", "second_at": t.astype("datetime64[us]"),
                       "sigma_future_bps": 0.1})
    for h in holes:  # a gap: rows stay (the grid keeps them), labels go
        df.loc[h : h + 300, "sigma_future_bps"] = np.nan
    return df


def test_long_capture_becomes_session_blocks_and_walks_forward():
    frames = {"short": _capture("2026-01-01", 900),
              "long": _capture("2026-01-02", 9000, holes=(2000, 5000, 7000))}
    groups = cv.groups(frames)
    assert list(groups) == ["short", "long[1/3]", "long[2/3]", "long[3/3]"]
    assert sum(len(g) for g in groups.values()) == 900 + 9000
    # blocks are whole sessions in time order
    ends = [groups[f"long[{b}/3]"]["second_at"].max() for b in (1, 2, 3)]
    assert ends == sorted(ends)
    assert cv.fold_training("short", groups) == ["long[1/3]", "long[2/3]", "long[3/3]"]
    assert cv.fold_training("long[1/3]", groups) == ["short"]
    assert cv.fold_training("long[3/3]", groups) == ["short", "long[1/3]", "long[2/3]"]


def test_validation_is_the_tail_of_each_group_after_an_embargo():
    a, b = _capture("2026-01-01", 1000), _capture("2026-01-03", 400)
    fit, val = cv.split_train_val([a, b], embargo_s=60)
    assert len(val) == 250 + 100
    for src in (a, b):
        f = fit[fit["second_at"].isin(src["second_at"])]
        v = val[val["second_at"].isin(src["second_at"])]
        assert (v["second_at"].min() - f["second_at"].max()) > pd.Timedelta(seconds=60)


def test_precision_at_budget():
    y = np.array([1, 0, 1, 0, 0, 0, 0, 0, 0, 0] * 10)
    p = np.linspace(1, 0, 100)
    assert cv.precision_at_budget(y, p, 0.05) == 0.4  # top 5 of 100: rows 0..4 -> 1,0,1,0,0
    assert cv.precision_at_budget(y[:3], p[:3], 0.05) == 1.0  # at least one alert


def test_card_section_is_replaced_not_duplicated(tmp_path):
    card = tmp_path / "card.md"
    card.write_text("# Model card\n\ntext\n")
    cv.write_card_section(card, "# Model evaluation across real captures\n\n## Assignment label\n\nv1\n")
    cv.write_card_section(card, "# Model evaluation across real captures\n\n## Assignment label\n\nv2\n")
    text = card.read_text()
    assert text.count(cv.CARD_BEGIN) == 1 and "v2" in text and "v1" not in text and text.startswith("# Model card")


def test_every_ml_model_gets_its_own_lift_whether_chosen_or_not():
    from glue.config import Settings
    from glue.modeling.crossval import LabelEval, _score_fold, verdict_lines

    rng = np.random.default_rng(0)
    y = (rng.random(3000) < 0.2).astype(int)
    t = np.datetime64("2026-01-01T00:00:00", "us") + np.arange(3000).astype("timedelta64[s]")
    good, noise = y + rng.random(3000), rng.random(3000)
    scores = {"chosen": noise, "baseline_har": noise, "baseline_persistence": noise, "logreg": noise,
              "hgb": np.full(3000, np.nan), "forecast": good}  # hgb not fitted in this fold: no lift for it
    fold = _score_fold("pooled", y, scores, t, Settings(), 0.05, 0.9, 50, "per fold")
    assert set(fold.ml_lift) == {"logreg", "forecast"}
    assert fold.ml_lift["forecast"]["baseline_har"]["ci_low"] > 0
    lines = "\n".join(verdict_lines(LabelEval("assignment", [], fold), 0.9))
    assert "forecast on its own (chosen or not): PR-AUC 1.000; lift over baseline_har +" in lines


def _fake_fit_fold(calls: list, good: str | None, fail: tuple[str, ...] = ()):
    """A stand-in for `cv.fit_fold` (the real one is run by tests/integration/test_evaluate_cli.py): it
    records what each held-out fit trains on and scores the held-out group; `good` ranks the labels."""
    from glue.modeling.results import ModelResult

    def fit_fold(label, train_names, test, all_groups, settings, columns, ref_s):
        calls.append((tuple(train_names), next(g for g, df in all_groups.items() if df is test)))
        if calls[-1][1] in fail:
            raise cv.DataError("the val split has only one class", "use more data")
        rng = np.random.default_rng(len(calls))
        y = (rng.random(len(test)) < 0.2).astype(int)
        models = {}
        for name, kind in (("baseline_har", "baseline"), ("baseline_persistence", "baseline"), ("logreg", "ml"),
                           ("forecast", "ml")):
            p = y + rng.random(len(y)) if name == good else rng.random(len(y))
            models[name] = ModelResult(name, kind, None, {}, p, p)
        return models, y, test["second_at"].to_numpy(dtype="datetime64[us]")

    return fit_fold


def test_the_held_out_choice_scores_each_training_group_from_the_others_and_never_reads_the_test(monkeypatch):
    from glue.config import Settings

    all_groups = {name: _capture(day, 1200) for name, day in
                  (("a", "2026-01-01"), ("b", "2026-01-02"), ("c", "2026-01-03"), ("test", "2026-01-04"))}
    train = cv.fold_training("test", all_groups)
    calls: list = []
    monkeypatch.setattr(cv, "fit_fold", _fake_fit_fold(calls, good="forecast"))
    chosen, how = cv.held_out_choice("assignment", train, all_groups, Settings(), [], 600)
    assert calls == [(("b", "c"), "a"), (("a", "c"), "b"), (("a", "b"), "c")]  # "test" never read
    assert chosen == "forecast" and how.startswith("forecast vs baseline_") and "on 3 held-out training groups" in how
    assert "(95.0 %)" in how  # the interval's level is adjusted for picking the best of two ML models


def test_the_held_out_choice_keeps_the_baseline_without_a_clear_lift_and_falls_back_with_one_group(monkeypatch):
    from glue.config import Settings

    all_groups = {name: _capture(day, 1200) for name, day in
                  (("a", "2026-01-01"), ("b", "2026-01-02"), ("test", "2026-01-03"))}
    monkeypatch.setattr(cv, "fit_fold", _fake_fit_fold([], good="baseline_har"))
    chosen, how = cv.held_out_choice("assignment", ["a", "b"], all_groups, Settings(), [], 600)
    assert chosen == "baseline_har", how  # the ML pick is noise: its lift interval does not clear 0
    monkeypatch.setattr(cv, "fit_fold", _fake_fit_fold([], good=None))
    chosen, how = cv.held_out_choice("assignment", ["a", "b"], all_groups, Settings(), [], 600)
    assert chosen in ("baseline_har", "baseline_persistence"), how  # all noise: never an ML model by luck
    chosen, how = cv.held_out_choice("assignment", ["a"], all_groups, Settings(), [], 600)
    assert chosen is None and how == "1 training group(s): chosen on the validation tails"
    monkeypatch.setattr(cv, "fit_fold", _fake_fit_fold([], good="forecast", fail=("b",)))
    chosen, how = cv.held_out_choice("assignment", ["a", "b"], all_groups, Settings(), [], 600)
    assert chosen is None and how == "1 held-out training group(s) scored; chosen on the validation tails"
