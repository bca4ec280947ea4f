"""The fitting: split, tau, labels, baselines, model selection, calibration, the skill gate, test metrics.

The computation of one training run without any file or MLflow side effect (`run_training`), in the
order of the honest evaluation: time split with embargo -> tau from train -> labels -> baselines ->
walk-forward model selection inside train -> fit on train, calibrate on validation -> threshold on
validation -> metrics and block-bootstrap CIs on test, touched once. The job that writes artifacts,
logs to MLflow and renders reports is `glue.modeling.training`.
"""

from __future__ import annotations

import logging
import time

import numpy as np
import pandas as pd

from glue.config import Settings
from glue.errors import DataError
from glue.modeling import data as mdata
from glue.modeling import estimators as est
from glue.modeling.evaluation import (
    average_precision,
    block_bootstrap,
    choose_threshold,
    metrics,
    short_block_s,
    skill_p_value,
)
from glue.modeling.forecast import FORECAST_GROUPS, LabelSpec, VolatilityForecast
from glue.modeling.labels import RATIO, RELATIVE, apply_k, apply_threshold, fit_threshold, has_label, with_ratio
from glue.modeling.results import (
    BASELINES,
    FORECAST,
    HAR,
    HGB,
    HGB_MARGIN,
    LOGREG,
    ML_MODELS,
    PERSISTENCE,
    REGISTRABLE_BASELINES,
    SKILL_ALPHA,
    SKILL_PERMUTATIONS,
    VAL_LIFT_SAMPLES,
    ZSCORE,
    ModelResult,
    TrainResult,
    level_text,
    val_lift_level,
)
from glue.modeling.splits import TEST, TRAIN, VAL, assign, time_split, walk_forward_folds
from glue.modeling.tau import apply_label, fit_tau

log = logging.getLogger("glue.train")


class Step:
    """A named, timed progress step: logs start, end, duration and a rate."""

    def __init__(self, timings: dict[str, float], name: str, rows: int = 0) -> None:
        self.timings, self.name, self.rows = timings, name, rows

    def __enter__(self) -> Step:
        self.t0 = time.perf_counter()
        log.info("train: %s ...", self.name)
        return self

    def __exit__(self, *exc: object) -> None:
        dt = time.perf_counter() - self.t0
        self.timings[self.name] = round(dt, 3)
        rate = f", {self.rows / dt:,.0f} rows/s" if self.rows and dt > 0 else ""
        log.info("train: %s done in %.2f s%s", self.name, dt, rate)


def prepare(df: pd.DataFrame, settings: Settings):
    """Labelled rows, split labels, tau, y per split and k (None for the assignment label).

    The label is `model.label`. tau (always: the view and monitor read it) and, for the relative label,
    k come from the training split only. The relative label's ratio is computed over the whole frame
    before any row is dropped (its reference reads the rows before t); rows without a complete
    reference are unlabelled.
    """
    m = settings.model
    if "sigma_future_bps" not in df.columns:
        raise DataError("the features have no sigma_future_bps column",
                        "train on the training view (replay output with labels), not live feature rows")
    if m.label == RELATIVE:
        df = with_ratio(df, m.reference_s)
    labelled = has_label(m.label, df)
    n_unlabelled = int((~labelled).sum())
    if not labelled.any():
        raise DataError(f"no row has the {m.label} label ({len(df):,} rows; the relative label needs a complete "
                        f"trailing reference of {m.reference_s} s and a complete horizon)",
                        "use a longer capture, or model.label: assignment")
    if n_unlabelled:
        log.info("train: %d of %d rows have no %s label (horizon%s incomplete or crossing a gap); not used",
                 n_unlabelled, len(df), m.label, " or reference" if m.label == RELATIVE else "")
    data = df[labelled].reset_index(drop=True)
    split = time_split(data["second_at"], m.train_frac, m.val_frac, m.embargo_s, settings.features.horizon_s)
    part = assign(data["second_at"], split)
    train = data[part == TRAIN]
    if len(train) == 0:
        raise DataError("the training split is empty", "use more data (a longer capture)")
    tau = fit_tau(train, m.tau_quantile, m.tau_per_product)
    k = None
    if m.label == RELATIVE:
        k = fit_threshold(RELATIVE, train, m.tau_quantile)["k"]
        y = apply_k(data[RATIO].to_numpy(dtype=float), k)
    else:
        y = apply_label(data, tau)
    return data, part, split, tau, y, n_unlabelled, k


def split_summary(data: pd.DataFrame, part: np.ndarray, y: np.ndarray) -> pd.DataFrame:
    frame = pd.DataFrame({"split": part, "product_id": data["product_id"].to_numpy(), "y": y,
                          "second_at": data["second_at"].to_numpy()})
    rows = []
    for split_name in (TRAIN, VAL, TEST, "embargo"):
        sub = frame[frame["split"] == split_name]
        for product, g in [("ALL", sub), *sorted(sub.groupby("product_id"), key=lambda kv: kv[0])]:
            if len(g) == 0:
                continue
            rows.append({"split": split_name, "product_id": product, "rows": len(g), "positives": int(g["y"].sum()),
                         "positive_rate": float(g["y"].mean()), "start_at": str(g["second_at"].min()),
                         "end_at": str(g["second_at"].max())})
    return pd.DataFrame(rows)


MIN_TRAIN_ROWS = 300  # a few minutes of seconds: below this no model, not even HAR, is worth fitting
MIN_POSITIVES = 5  # per split the model is fitted or calibrated on


def check_classes(name: str, y: np.ndarray, what: str = "model.tau_quantile") -> None:
    """One line saying what is wrong when a split cannot train or calibrate a classifier."""
    n_pos = int(y.sum())
    if len(y) == 0:
        raise DataError(f"the {name} split is empty", "use more data (a longer capture) or change model.val_frac")
    if n_pos == 0 or n_pos == len(y):
        word = "no" if n_pos == 0 else "only"
        raise DataError(f"the {name} split has only one class ({len(y):,} rows, {word} spikes): its stretch of time "
                        f"holds {'no second above' if n_pos == 0 else 'no second below'} the threshold",
                        f"use more data covering another regime, or change {what} or model.val_frac")
    if min(n_pos, len(y) - n_pos) < MIN_POSITIVES:
        raise DataError(f"the {name} split has {min(n_pos, len(y) - n_pos)} rows of its rarer class "
                        f"(of {len(y):,})", f"use more data, or change {what} or model.val_frac")


def fit_safely(name: str, model, X: np.ndarray, y: np.ndarray):
    """Fit, turning an estimator's complaint about odd data into one actionable line."""
    try:
        return model.fit(X, y)
    except ValueError as exc:
        first = str(exc).splitlines()[0] if str(exc) else type(exc).__name__
        raise DataError(f"{name} cannot be fitted on these {len(y):,} rows ({first})",
                        "use more data (several sessions of at least a few minutes each)") from exc


def _select(family: str, grid: tuple[dict, ...], train: pd.DataFrame, X_train: np.ndarray, settings: Settings,
            folds: list[tuple[np.ndarray, np.ndarray]], columns: list[str]) -> tuple[dict, dict[str, float]]:
    """Walk-forward selection inside the training window: tau (or k) and labels refitted per fold."""
    m = settings.model
    scores: dict[str, float] = {}
    for params in grid:
        aps = []
        for fit_mask, val_mask in folds:
            thr = fit_threshold(m.label, train[fit_mask], m.tau_quantile, m.tau_per_product)
            y_fit = apply_threshold(m.label, train[fit_mask], thr)
            y_fval = apply_threshold(m.label, train[val_mask], thr)
            if min(y_fit.sum(), len(y_fit) - y_fit.sum()) < MIN_POSITIVES or y_fval.min() == y_fval.max():
                continue
            model = _build(family, params, m.seed, columns, int(fit_mask.sum()))
            try:
                model.fit(X_train[fit_mask], y_fit)
            except (ValueError, DataError) as exc:  # a fold too odd to fit is skipped, and said
                log.info("train: walk-forward %s %s: fold skipped (%s)", family, params, str(exc).splitlines()[0])
                continue
            aps.append(average_precision(y_fval, model.predict_proba(X_train[val_mask])[:, 1]))
        scores[_params_key(params)] = float(np.mean(aps)) if aps else float("nan")
        log.info("train: walk-forward %s %s mean PR-AUC %.4f over %d folds", family, params,
                 scores[_params_key(params)], len(aps))
    best = max(grid, key=lambda p: np.nan_to_num(scores[_params_key(p)], nan=-1.0))
    return best, scores


def _build(family: str, params: dict, seed: int, columns: list[str], n_rows: int):
    if family == LOGREG:
        return est.build_logreg(seed=seed, columns=columns, **params)
    return est.build_hgb(params, seed, columns, n_rows)


def _params_key(params: dict) -> str:
    return ",".join(f"{k}={v}" for k, v in sorted(params.items()))


def fit_models(data: pd.DataFrame, part: np.ndarray, y: np.ndarray, columns: list[str], settings: Settings,
               timings: dict[str, float], shuffle_train_labels: bool = False,
               families: tuple[str, ...] = ML_MODELS, select: bool = True,
               label_spec: LabelSpec | None = None) -> dict[str, ModelResult]:
    """Baselines (persistence, HAR, z-score) and the ML families, fitted on train, calibrated on validation.

    `label_spec` (the label and its fitted threshold) gives the forecast model each row's threshold;
    without it, or when the features cannot give it, the forecast family is not fitted (said)."""
    m = settings.model
    tr, va, te = part == TRAIN, part == VAL, part == TEST
    train, val, test = data[tr], data[va], data[te]
    X = mdata.feature_matrix(data, columns)
    X_tr, X_va, X_te = X[tr], X[va], X[te]
    y_tr, y_va = y[tr].copy(), y[va].copy()
    sigma_tr = data["sigma_future_bps"].to_numpy(dtype=float)[tr]
    if shuffle_train_labels:
        # Leakage guard used by the tests: with labels permuted, no honest model can beat the positive rate.
        # The forecast model's continuous target is permuted with the labels (same rows).
        rng = np.random.default_rng(m.seed)
        perm_tr, perm_va = rng.permutation(len(y_tr)), rng.permutation(len(y_va))
        y_tr, y_va, sigma_tr = y_tr[perm_tr], y_va[perm_va], sigma_tr[perm_tr]
    if len(y_tr) < MIN_TRAIN_ROWS:
        raise DataError(f"only {len(y_tr):,} labelled seconds in the training window (need {MIN_TRAIN_ROWS:,})",
                        "use a longer capture (at least about 15 minutes of data)")
    check_classes(TRAIN, y_tr)
    check_classes(VAL, y_va)
    results: dict[str, ModelResult] = {}

    with Step(timings, "baselines", len(data)):
        pcol = est.persistence_column(columns, settings.features.horizon_s)
        persistence = fit_safely(PERSISTENCE, est.build_persistence(columns, pcol), X_va, y_va)
        results[PERSISTENCE] = ModelResult(PERSISTENCE, "baseline", persistence, {"column": pcol},
                                           persistence.predict_proba(X_va)[:, 1], persistence.predict_proba(X_te)[:, 1],
                                           p_test_ungated=np.nan_to_num(X_te[:, columns.index(pcol)]))
        har = fit_safely(HAR, est.build_har(columns, m.seed), X_tr, y_tr)
        har_cal = est.calibrate(har, X_va, y_va)
        results[HAR] = ModelResult(HAR, "baseline", har_cal, {"inputs": list(har[0].names_)},
                                   har_cal.predict_proba(X_va)[:, 1], har_cal.predict_proba(X_te)[:, 1],
                                   p_test_ungated=har.predict_proba(X_te)[:, 1])
        zcol = est.zscore_column(columns)
        rule = est.ZScoreRule(zcol).fit(train).calibrate(val, y_va)
        results[ZSCORE] = ModelResult(ZSCORE, "baseline", None,
                                      {"column": zcol, "means": rule.means, "stds": rule.stds},
                                      rule.predict_proba(val), rule.predict_proba(test), p_test_ungated=rule.z(test))

    folds = walk_forward_folds(train["second_at"], m.walk_forward_folds, m.embargo_s) if select else []
    for family in families:
        if family == FORECAST:
            try:
                if label_spec is None:
                    raise DataError("no label threshold per row was given", "")
                threshold_bps = label_spec.thresholds(data["product_id"].tolist(), X, columns)
            except DataError as exc:  # e.g. the relative label on a SQL version without the reference window
                log.info("train: forecast model not fitted: %s", str(exc).split(" — ")[0])
                continue
            with Step(timings, f"fit {family}", len(train)):
                Xf = np.column_stack([X, threshold_bps])
                forecast = VolatilityForecast(columns, FORECAST_GROUPS)
                try:
                    forecast.fit(Xf[tr], y_tr, sigma_future_bps=sigma_tr)
                except ValueError as exc:
                    raise DataError(f"forecast cannot be fitted on these {len(y_tr):,} rows "
                                    f"({str(exc).splitlines()[0]})", "use more data") from exc
                calibrated = est.calibrate(forecast, Xf[va], y_va)
            results[family] = ModelResult(family, "ml", calibrated, {"inputs": list(forecast.inputs_.names_)},
                                          calibrated.predict_proba(Xf[va])[:, 1],
                                          calibrated.predict_proba(Xf[te])[:, 1],
                                          p_test_ungated=forecast.predict_proba(Xf[te])[:, 1])
            continue
        grid = est.LOGREG_GRID if family == LOGREG else est.HGB_GRID
        with Step(timings, f"select {family}", len(train) * len(grid) * max(1, len(folds))):
            best, scores = _select(family, grid, train, X_tr, settings, folds, columns) if folds else (grid[0], {})
        with Step(timings, f"fit {family}", len(train)):
            model = fit_safely(family, _build(family, best, m.seed, columns, len(y_tr)), X_tr, y_tr)
            calibrated = est.calibrate(model, X_va, y_va)
        results[family] = ModelResult(family, "ml", calibrated, dict(best), calibrated.predict_proba(X_va)[:, 1],
                                      calibrated.predict_proba(X_te)[:, 1], selection=scores,
                                      p_test_ungated=model.predict_proba(X_te)[:, 1])

    y_te = y[te]
    apply_skill_gate(results, y_va, m.seed)
    for r in results.values():
        r.threshold, r.val_f1 = choose_threshold(y_va, r.p_val)
        r.val = metrics(y_va, r.p_val, r.threshold)
        r.test = metrics(y_te, r.p_test, r.threshold)
        assert r.p_test_ungated is not None  # every result above is built with it
        r.test_ungated = ranking_metrics(y_te, r.p_test_ungated)
    validation_lifts(results, y_va, val["second_at"].to_numpy(dtype="datetime64[us]"), settings)
    return results


def validation_lifts(results: dict[str, ModelResult], y_va: np.ndarray, val_t: np.ndarray, settings: Settings) -> None:
    """Each ML model's validation PR-AUC lift over the best baseline, with a block-bootstrap interval.

    Validation data only (the test split is not read). Blocks of `model.bootstrap_block_s` seconds, or a
    tenth of a short validation stretch (at least 30 s), so the interval does not collapse to a point. The
    level is `val_lift_level` of the number of ML models: the pick is the best of them on these rows.
    """
    base = best_baseline(results)
    ml = [name for name, r in results.items() if r.kind == "ml"]
    for name in ml:
        r = results[name]
        r.val_lift = {"baseline": base,
                      **lift_interval(y_va, r.p_val, results[base].p_val, val_t, settings, len(ml))}


def lift_interval(y: np.ndarray, p: np.ndarray, p_base: np.ndarray, second_at: np.ndarray, settings: Settings,
                  n_candidates: int) -> dict[str, float]:
    """The champion gate's evidence: PR-AUC(p) - PR-AUC(p_base) with its circular-block-bootstrap interval
    at `val_lift_level(n_candidates)` ({"level", "estimate", "ci_low", "ci_high", ...}), from
    VAL_LIFT_SAMPLES resamples of blocks of `short_block_s` seconds."""
    level = val_lift_level(n_candidates)
    block = short_block_s(second_at, settings.model.bootstrap_block_s)
    boot = block_bootstrap(y, {"a": p, "b": p_base}, second_at, block, VAL_LIFT_SAMPLES, settings.model.seed,
                           [("a", "b")], level=level)
    return {"level": level, **boot["a-b"]}


def clears_zero(lift: dict[str, float]) -> bool:
    """The lift's whole interval lies above 0 (the only evidence that makes an ML model champion)."""
    return bool(lift) and float(lift.get("ci_low", np.nan)) > 0


def apply_skill_gate(results: dict[str, ModelResult], y_va: np.ndarray, seed: int) -> None:
    """Mark the models that show no skill on validation; they cannot become the champion.

    Skill = validation PR-AUC above what the same scores reach against time-shifted labels
    (permutation p-value <= SKILL_ALPHA). A model fitted to noise still ranks rows along some direction
    of the volatility inputs, so its test PR-AUC can land above or below the positive rate by luck; the
    gate keeps it from being registered. Nothing is replaced by a constant: when no model shows skill,
    the best calibrated baseline is registered (`choose_model`), never the base rate.
    """
    for r in results.values():
        if r.p_test_ungated is None:
            r.p_test_ungated = r.p_test.copy()
        r.skill_p_value = skill_p_value(y_va, r.p_val, SKILL_PERMUTATIONS, seed)
        if r.skill_p_value > SKILL_ALPHA:
            log.warning("train: %s shows no skill on validation (p=%.3f); it cannot be the champion", r.name,
                        r.skill_p_value)
            r.no_skill = True


def ranking_metrics(y: np.ndarray, scores: np.ndarray) -> dict[str, float]:
    """PR-AUC and ROC-AUC of any score (not a probability: raw rules, uncalibrated models)."""
    from sklearn.metrics import roc_auc_score

    both = len(np.unique(y)) == 2
    return {"pr_auc": average_precision(y, scores),
            "roc_auc": float(roc_auc_score(y, scores)) if both else float("nan")}


def best_baseline(models: dict[str, ModelResult]) -> str:
    """The registrable baseline (persistence or HAR) with the higher validation PR-AUC."""
    return pick_baseline({n: r.val["pr_auc"] for n, r in models.items()})


def best_ml(models: dict[str, ModelResult]) -> str | None:
    """The ML model with the best validation PR-AUC (HGB only when it leads by HGB_MARGIN); None without."""
    return pick_ml({n: r.val["pr_auc"] for n, r in models.items()})


def pick_baseline(pr_auc: dict[str, float]) -> str:
    """The registrable baseline with the higher PR-AUC in `pr_auc` (persistence on a tie)."""
    names = [n for n in REGISTRABLE_BASELINES if n in pr_auc]
    return max(names, key=lambda n: (np.nan_to_num(pr_auc[n], nan=-1.0), n == PERSISTENCE))


def pick_ml(pr_auc: dict[str, float]) -> str | None:
    """The ML model with the best PR-AUC in `pr_auc` (HGB only when it leads by HGB_MARGIN); None without."""
    names = [n for n in ML_MODELS if n in pr_auc]
    if not names:
        return None

    def score(n: str) -> float:
        return float(np.nan_to_num(pr_auc[n], nan=-1.0)) - (HGB_MARGIN if n == HGB else 0.0)

    return max(names, key=lambda n: (score(n), -names.index(n)))


def beats_baseline(r: ModelResult) -> bool:
    """The ML model's validation lift over the best baseline has its whole interval above 0."""
    return clears_zero(r.val_lift)


def choose_model(models: dict[str, ModelResult]) -> str:
    """On validation only: the ML pick is champion only if it shows skill and beats the best baseline
    with its validation PR-AUC lift's block-bootstrap interval (`val_lift_level`) above 0.

    Otherwise the best baseline, calibrated on validation, is registered (never a constant).
    """
    base = best_baseline(models)
    ml = best_ml(models)
    if ml and not models[ml].no_skill and models[ml].val["pr_auc"] > models[base].val["pr_auc"] \
            and beats_baseline(models[ml]):
        return ml
    return base


def verdict(result: TrainResult) -> str:
    """Plain words: which model is registered and why; how it compares on test, with the bootstrap CI."""
    models, chosen = result.models, result.chosen
    ml = best_ml(models)
    base = best_baseline(models)
    lines = []
    if ml:
        for other in (HAR, PERSISTENCE):
            b = result.bootstrap.get(f"{ml}-{other}")
            if not b:
                continue
            mt, bt = models[ml].test, models[other].test
            lo, hi = b["ci_low"], b["ci_high"]
            word = "beats" if lo > 0 else "is WORSE than" if hi < 0 else "does NOT clearly beat"
            lines.append(f"{ml} {word} {other} on test: PR-AUC {mt['pr_auc']:.3f} vs {bt['pr_auc']:.3f} "
                         f"(difference {b['estimate']:+.3f}, 95% block-bootstrap CI [{lo:+.3f}, {hi:+.3f}]; "
                         f"positive rate {mt['positive_rate']:.3f}).")
    if chosen in BASELINES:
        why = []
        if ml and models[ml].no_skill:
            why.append(f"{ml} shows no skill on validation (time-shift permutation p = "
                       f"{models[ml].skill_p_value:.3f} > {SKILL_ALPHA})")
        if ml and models[ml].val["pr_auc"] <= models[base].val["pr_auc"]:
            why.append(f"{ml} does not beat {base} on validation (PR-AUC {models[ml].val['pr_auc']:.3f} vs "
                       f"{models[base].val['pr_auc']:.3f})")
        elif ml and not beats_baseline(models[ml]):
            b = models[ml].val_lift
            why.append(f"{ml} beats {base} on validation only by chance (PR-AUC lift {b.get('estimate', np.nan):+.3f}, "
                       f"{level_text(b.get('level', np.nan))} block-bootstrap interval "
                       f"[{b.get('ci_low', np.nan):+.3f}, {b.get('ci_high', np.nan):+.3f}] includes 0)")
        lines.append(f"NO ML MODEL IS REGISTERED: {'; '.join(why) or 'no ML model was trained'}. The registered "
                     f"model is the best baseline, {chosen}, with its probability calibrated on validation"
                     f"{' (it shows no skill on validation either)' if models[chosen].no_skill else ''}.")
    else:
        b = models[chosen].val_lift
        lines.append(f"Registered model: {chosen} (it shows skill and beats the best baseline {base} on validation "
                     f"PR-AUC, {models[chosen].val['pr_auc']:.3f} vs {models[base].val['pr_auc']:.3f}, lift "
                     f"{level_text(b['level'])} interval [{b['ci_low']:+.3f}, {b['ci_high']:+.3f}]).")
    return " ".join(lines)


def run_training(df: pd.DataFrame, settings: Settings, *, shuffle_train_labels: bool = False,
                 families: tuple[str, ...] = ML_MODELS) -> TrainResult:
    """The computation only (no files, no MLflow): split, fit, evaluate, bootstrap."""
    m = settings.model
    timings: dict[str, float] = {}
    columns = mdata.feature_columns(df)
    sql_version = mdata.sql_version_of(df)
    with Step(timings, "prepare", len(df)):
        data, part, split, tau, y, n_unlabelled, k = prepare(df, settings)
        summary = split_summary(data, part, y)
    for r in summary[summary["product_id"] == "ALL"].itertuples(index=False):
        log.info("train: split %-7s %8d rows  positive rate %.4f  %s .. %s", r.split, r.rows, r.positive_rate,
                 r.start_at, r.end_at)
    log.info("train: label %s; tau (q=%.2f, from train only) %s%s", m.label, m.tau_quantile,
             ", ".join(f"{p}={v:.4f} bps" for p, v in sorted(tau.items())),
             f"; k (ratio to the trailing {m.reference_s} s reference, from train only) {k:.4f}" if k else "")
    spec = LabelSpec(m.label, tau, k, m.reference_s)
    models = fit_models(data, part, y, columns, settings, timings, shuffle_train_labels, families, label_spec=spec)
    te = part == TEST
    y_te = y[te]
    pairs = [(name, base) for name in ML_MODELS if name in models for base in (HAR, PERSISTENCE, ZSCORE)]
    scores = {k: v.p_test for k, v in models.items()}
    with Step(timings, "bootstrap", int(te.sum()) * m.bootstrap_samples):
        boot = block_bootstrap(y_te, scores,
                               data.loc[te, "second_at"].to_numpy(dtype="datetime64[us]"),
                               m.bootstrap_block_s, m.bootstrap_samples, m.seed, pairs)
    coef = None
    if LOGREG in models:
        with Step(timings, "coefficient table"):
            tr = part == TRAIN
            inputs = models[LOGREG].estimator.estimator.estimator[0]  # Calibrated(Frozen(Pipeline)) -> ModelInputs
            coef = est.coefficient_table(inputs.transform(mdata.feature_matrix(data[tr], columns)), y[tr],
                                         list(inputs.names_), seed=m.seed)
    example = mdata.feature_matrix(data[te].head(5), columns)
    result = TrainResult(
        feature_columns=columns, sql_version=sql_version,
        sql_fingerprint=mdata.sql_fingerprint(sql_version, settings.features.sql_dir),

        split=split.as_dict(), tau_bps=tau, label=m.label, k=k, reference_s=m.reference_s,
        summary=summary, models=models, chosen=choose_model(models),
        bootstrap=boot, y_val=y[part == VAL], y_test=y_te,
        test_keys=data.loc[te, ["product_id", "second_at", "sigma_future_bps"]].reset_index(drop=True),
        coefficients=coef, data_range=(str(df["second_at"].min()), str(df["second_at"].max())),
        rows_total=len(df), rows_unlabelled=n_unlabelled, seed=m.seed, tau_quantile=m.tau_quantile,
        timings_s=timings, bootstrap_block_s=m.bootstrap_block_s,
        example_rows=pd.DataFrame(example, columns=columns),
        example_thresholds=spec.thresholds(data.loc[te, "product_id"].head(5).tolist(), example, columns)
        if FORECAST in models else None)
    result.verdict = verdict(result)
    log.info("train: %s", result.verdict)
    return result
