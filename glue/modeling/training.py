"""`train`: the whole training job, from features to registered model, artifacts and report.

Owns the order of the honest evaluation: time split with embargo -> tau from train -> labels ->
baselines -> walk-forward model selection inside train -> fit on train, calibrate on validation ->
threshold on validation -> metrics and block-bootstrap CIs on test, touched once. Then it writes
`models/artifacts/`, logs one MLflow run per model, registers the chosen model with the alias, and
writes `reports/model_eval.pdf` (and the model card when asked).
"""

from __future__ import annotations

import logging
import time
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from glue.config import Settings
from glue.errors import DataError
from glue.modeling import data as mdata
from glue.modeling import estimators as est
from glue.modeling.evaluation import average_precision, block_bootstrap, choose_threshold, metrics, skill_p_value
from glue.modeling.splits import TEST, TRAIN, VAL, assign, time_split, walk_forward_folds
from glue.modeling.tau import apply_label, fit_tau

log = logging.getLogger("glue.train")

PERSISTENCE, ZSCORE, LOGREG, HGB = "baseline_persistence", "baseline_zscore", "logreg", "hgb"
# HGB must beat the logistic regression on validation PR-AUC by this much to be chosen: a small
# gain does not pay for a model that is harder to explain and slower to score.
HGB_MARGIN = 0.005
TRAINING_VIEW_NAME = mdata.TRAINING_VIEW
SKILL_ALPHA = 0.05
SKILL_PERMUTATIONS = 199
UNGATED = " (ungated)"


@dataclass
class ModelResult:
    name: str
    kind: str  # baseline | ml
    estimator: Any  # a fitted scikit-learn estimator (None for the z-score rule)
    params: dict[str, Any]
    p_val: np.ndarray
    p_test: np.ndarray
    threshold: float = 0.5
    val_f1: float = float("nan")
    val: dict[str, float] = field(default_factory=dict)
    test: dict[str, float] = field(default_factory=dict)
    selection: dict[str, float] = field(default_factory=dict)  # walk-forward mean PR-AUC per config
    skill_p_value: float = float("nan")  # validation PR-AUC vs a time-shift null
    no_skill: bool = False  # True: replaced by the constant base rate (see apply_skill_gate)
    # The model's own test ranking before calibration and the skill gate: the raw rule for baselines,
    # the uncalibrated model for ML (a calibration fitted on a one-regime validation can flip its sign).
    p_test_ungated: np.ndarray | None = None
    test_ungated: dict[str, float] = field(default_factory=dict)  # PR-AUC / ROC-AUC of those scores


@dataclass
class TrainResult:
    """Everything a report, a test or a caller needs from one training run."""

    feature_columns: list[str]
    sql_version: str
    sql_fingerprint: str
    split: dict[str, Any]
    tau_bps: dict[str, float]
    summary: pd.DataFrame  # per split and product: rows, positives, positive rate, time range
    models: dict[str, ModelResult]
    chosen: str
    bootstrap: dict[str, dict[str, float]]
    y_val: np.ndarray
    y_test: np.ndarray
    test_keys: pd.DataFrame
    coefficients: pd.DataFrame | None
    data_range: tuple[str, str]
    rows_total: int
    rows_unlabelled: int
    seed: int
    tau_quantile: float
    timings_s: dict[str, float] = field(default_factory=dict)
    artifacts_dir: str = ""
    report_path: str = ""
    run_ids: dict[str, str] = field(default_factory=dict)
    registered_version: str = ""
    verdict: str = ""
    bootstrap_block_s: int = 300
    example_rows: pd.DataFrame | None = None  # a few test rows' features (MLflow input example)

    def metrics_json(self) -> dict[str, Any]:
        """The deterministic metrics document (no timestamps, no run ids)."""
        return {
            "chosen": self.chosen,
            "positive_rates": {
                f"{r.split}/{r.product_id}": r.positive_rate for r in self.summary.itertuples(index=False)
            },
            "tau_bps": self.tau_bps,
            "split": self.split,
            "models": {name: {"val": m.val, "test": m.test, "threshold": m.threshold, "params": m.params,
                              "selection": m.selection, "skill_p_value": m.skill_p_value, "no_skill": m.no_skill,
                              "test_ungated": m.test_ungated}
                       for name, m in self.models.items()},
            "bootstrap": self.bootstrap,
            "verdict": self.verdict,
        }


class _Step:
    """A named, timed progress step: logs start, end, duration and a rate."""

    def __init__(self, timings: dict[str, float], name: str, rows: int = 0) -> None:
        self.timings, self.name, self.rows = timings, name, rows

    def __enter__(self) -> _Step:
        self.t0 = time.perf_counter()
        log.info("train: %s ...", self.name)
        return self

    def __exit__(self, *exc: object) -> None:
        dt = time.perf_counter() - self.t0
        self.timings[self.name] = round(dt, 3)
        rate = f", {self.rows / dt:,.0f} rows/s" if self.rows and dt > 0 else ""
        log.info("train: %s done in %.2f s%s", self.name, dt, rate)


def load_frame(features: str | None, warehouse: str | None, sql_version: str,
               labels: str | None = None) -> pd.DataFrame:
    if warehouse:
        return mdata.read_training_view(warehouse, sql_version)
    if not features:
        raise DataError("no input given", "pass --features PATH or --from-warehouse PATH")
    df = mdata.read_features(features)
    if not labels and "sigma_future_bps" not in df.columns:
        labels = mdata.sibling_labels(features)
    if labels:
        df = mdata.join_labels(df, labels)
    if sql_version and "sql_version" in df.columns:
        df = df[df["sql_version"].astype(str) == sql_version]
        if df.empty:
            raise DataError(f"no rows of SQL version {sql_version} in {features}", "check --sql-version")
    return df


def prepare(df: pd.DataFrame, settings: Settings):
    """Labelled rows, split labels, tau and y per split."""
    m = settings.model
    if "sigma_future_bps" not in df.columns:
        raise DataError("the features have no sigma_future_bps column",
                        "train on the training view (replay output with labels), not live feature rows")
    labelled = df["sigma_future_bps"].notna()
    n_unlabelled = int((~labelled).sum())
    if n_unlabelled:
        log.info("train: %d of %d rows have no label (horizon incomplete or crossing a gap); not used",
                 n_unlabelled, len(df))
    data = df[labelled].reset_index(drop=True)
    split = time_split(data["second_at"], m.train_frac, m.val_frac, m.embargo_s, settings.features.horizon_s)
    part = assign(data["second_at"], split)
    train = data[part == TRAIN]
    tau = fit_tau(train, m.tau_quantile, m.tau_per_product)
    y = apply_label(data, tau)
    return data, part, split, tau, y, n_unlabelled


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


def _select(family: str, grid: tuple[dict, ...], train: pd.DataFrame, X_train: np.ndarray, settings: Settings,
            folds: list[tuple[np.ndarray, np.ndarray]]) -> tuple[dict, dict[str, float]]:
    """Walk-forward selection inside the training window: tau and labels refitted per fold."""
    m = settings.model
    scores: dict[str, float] = {}
    for params in grid:
        aps = []
        for fit_mask, val_mask in folds:
            tau = fit_tau(train[fit_mask], m.tau_quantile, m.tau_per_product)
            y_fit, y_fval = apply_label(train[fit_mask], tau), apply_label(train[val_mask], tau)
            if y_fit.min() == y_fit.max() or y_fval.min() == y_fval.max():
                continue
            model = est.build_logreg(seed=m.seed, **params) if family == LOGREG else est.build_hgb(params, m.seed)
            model.fit(X_train[fit_mask], y_fit)
            aps.append(average_precision(y_fval, model.predict_proba(X_train[val_mask])[:, 1]))
        scores[_params_key(params)] = float(np.mean(aps)) if aps else float("nan")
        log.info("train: walk-forward %s %s mean PR-AUC %.4f over %d folds", family, params,
                 scores[_params_key(params)],
                 len(aps))
    best = max(grid, key=lambda p: np.nan_to_num(scores[_params_key(p)], nan=-1.0))
    return best, scores


def _params_key(params: dict) -> str:
    return ",".join(f"{k}={v}" for k, v in sorted(params.items()))


def fit_models(data: pd.DataFrame, part: np.ndarray, y: np.ndarray, columns: list[str], settings: Settings,
               timings: dict[str, float], shuffle_train_labels: bool = False,
               families: tuple[str, ...] = (LOGREG, HGB)) -> dict[str, ModelResult]:
    m = settings.model
    tr, va, te = part == TRAIN, part == VAL, part == TEST
    train, val, test = data[tr], data[va], data[te]
    X = mdata.feature_matrix(data, columns)
    X_tr, X_va, X_te = X[tr], X[va], X[te]
    y_tr, y_va = y[tr].copy(), y[va].copy()
    if shuffle_train_labels:
        # Leakage guard used by the tests: with labels permuted, no honest model can beat the positive rate.
        rng = np.random.default_rng(m.seed)
        y_tr, y_va = rng.permutation(y_tr), rng.permutation(y_va)
    for name, ys in ((TRAIN, y_tr), (VAL, y_va)):
        if ys.min() == ys.max():
            raise DataError(f"the {name} split has only one class", "use more data or a lower model.tau_quantile")
    results: dict[str, ModelResult] = {}

    with _Step(timings, "baselines", len(data)):
        pcol = est.persistence_column(columns, settings.features.horizon_s)
        persistence = est.build_persistence(columns, pcol).fit(X_va, y_va)
        results[PERSISTENCE] = ModelResult(PERSISTENCE, "baseline", persistence, {"column": pcol},
                                           persistence.predict_proba(X_va)[:, 1], persistence.predict_proba(X_te)[:, 1],
                                           p_test_ungated=np.nan_to_num(X_te[:, columns.index(pcol)]))
        zcol = est.zscore_column(columns)
        rule = est.ZScoreRule(zcol).fit(train).calibrate(val, y_va)
        results[ZSCORE] = ModelResult(ZSCORE, "baseline", None,
                                      {"column": zcol, "means": rule.means, "stds": rule.stds},
                                      rule.predict_proba(val), rule.predict_proba(test), p_test_ungated=rule.z(test))

    folds = walk_forward_folds(train["second_at"], m.walk_forward_folds, m.embargo_s)
    for family in families:
        grid = est.LOGREG_GRID if family == LOGREG else est.HGB_GRID
        with _Step(timings, f"select {family}", len(train) * len(grid) * max(1, len(folds))):
            best, scores = _select(family, grid, train, X_tr, settings, folds)
        with _Step(timings, f"fit {family}", len(train)):
            model = est.build_logreg(seed=m.seed, **best) if family == LOGREG else est.build_hgb(best, m.seed)
            model.fit(X_tr, y_tr)
            calibrated = est.calibrate(model, X_va, y_va)
        results[family] = ModelResult(family, "ml", calibrated, dict(best), calibrated.predict_proba(X_va)[:, 1],
                                      calibrated.predict_proba(X_te)[:, 1], selection=scores,
                                      p_test_ungated=model.predict_proba(X_te)[:, 1])

    y_te = y[te]
    apply_skill_gate(results, X_va, y_va, X_te, m.seed)
    for r in results.values():
        r.threshold, r.val_f1 = choose_threshold(y_va, r.p_val)
        r.val = metrics(y_va, r.p_val, r.threshold)
        r.test = metrics(y_te, r.p_test, r.threshold)
        r.test_ungated = ranking_metrics(y_te, r.p_test_ungated)
    return results


def apply_skill_gate(results: dict[str, ModelResult], X_va: np.ndarray, y_va: np.ndarray, X_te: np.ndarray,
                     seed: int) -> None:
    """A model must show skill on validation or it predicts the base rate.

    Skill = validation PR-AUC above what the same scores reach against time-shifted labels
    (permutation p-value <= SKILL_ALPHA). Without this, a model fitted to noise still ranks rows along
    some random direction of the (strongly collinear) volatility features, and its test PR-AUC can land
    far above or below the positive rate by luck. With it, a model that learned nothing says so: a
    constant probability (DummyClassifier, prior) whose PR-AUC is exactly the positive rate.
    """
    from sklearn.dummy import DummyClassifier

    for r in results.values():
        if r.p_test_ungated is None:
            r.p_test_ungated = r.p_test.copy()
        r.skill_p_value = skill_p_value(y_va, r.p_val, SKILL_PERMUTATIONS, seed)
        if r.skill_p_value > SKILL_ALPHA:
            log.warning("train: %s shows no skill on validation (p=%.3f); it predicts the base rate", r.name,
                        r.skill_p_value)
            r.no_skill = True
            r.estimator = DummyClassifier(strategy="prior").fit(X_va, y_va)
            r.p_val = r.estimator.predict_proba(X_va)[:, 1]
            r.p_test = r.estimator.predict_proba(X_te)[:, 1]


def ranking_metrics(y: np.ndarray, scores: np.ndarray) -> dict[str, float]:
    """PR-AUC and ROC-AUC of any score (not a probability: raw rules, uncalibrated models)."""
    from sklearn.metrics import roc_auc_score

    both = len(np.unique(y)) == 2
    return {"pr_auc": average_precision(y, scores),
            "roc_auc": float(roc_auc_score(y, scores)) if both else float("nan")}


def choose_model(models: dict[str, ModelResult]) -> str:
    """On validation only: HGB must beat logreg by HGB_MARGIN; the ML pick must beat the persistence baseline."""
    ml = LOGREG
    if HGB in models and LOGREG in models and models[HGB].val["pr_auc"] > models[LOGREG].val["pr_auc"] + HGB_MARGIN:
        ml = HGB
    if ml not in models:
        return PERSISTENCE
    return ml if models[ml].val["pr_auc"] > models[PERSISTENCE].val["pr_auc"] else PERSISTENCE


def best_ml(models: dict[str, ModelResult]) -> str:
    if HGB in models and models[HGB].val["pr_auc"] > models[LOGREG].val["pr_auc"] + HGB_MARGIN:
        return HGB
    return LOGREG


def verdict(result: TrainResult) -> str:
    """Plain words: how much the ML model beats the baseline on test, with the bootstrap CI."""
    ml = best_ml(result.models)
    lines = []
    for base in (PERSISTENCE, ZSCORE):
        b = result.bootstrap.get(f"{ml}-{base}")
        if not b:
            continue
        mt, bt = result.models[ml].test, result.models[base].test
        diff, lo, hi = b["estimate"], b["ci_low"], b["ci_high"]
        if lo > 0:
            word = "beats"
        elif hi < 0:
            word = "is WORSE than"
        else:
            word = "does NOT clearly beat"
        lines.append(f"{ml} {word} {base}: test PR-AUC {mt['pr_auc']:.3f} vs {bt['pr_auc']:.3f} "
                     f"(difference {diff:+.3f}, 95% block-bootstrap CI [{lo:+.3f}, {hi:+.3f}]; "
                     f"positive rate {mt['positive_rate']:.3f}).")
    gated = [n for n, r in result.models.items() if r.no_skill]
    if gated:
        lines.append(f"No skill on validation (time-shift permutation p > {SKILL_ALPHA}): {', '.join(gated)}; "
                     "these predict the base rate. Their raw rankings on test (before calibration and the gate): "
                     + "; ".join(f"{n} PR-AUC {result.models[n].test_ungated['pr_auc']:.3f}" for n in gated) + ".")
        b = result.bootstrap.get(f"{ml}{UNGATED}-{PERSISTENCE}{UNGATED}")
        if b:
            lines.append(f"Raw {ml} − raw persistence: {b['estimate']:+.3f} "
                         f"[{b['ci_low']:+.3f}, {b['ci_high']:+.3f}].")
    if result.chosen != ml:
        lines.append(f"On validation the {ml} model did not beat the persistence baseline, so the registered "
                     f"model is {result.chosen}.")
    else:
        lines.append(f"Registered model: {result.chosen} (chosen on validation PR-AUC).")
    return " ".join(lines)


def run_training(df: pd.DataFrame, settings: Settings, *, shuffle_train_labels: bool = False,
                 families: tuple[str, ...] = (LOGREG, HGB)) -> TrainResult:
    """The computation only (no files, no MLflow): split, fit, evaluate, bootstrap."""
    m = settings.model
    timings: dict[str, float] = {}
    columns = mdata.feature_columns(df)
    sql_version = mdata.sql_version_of(df)
    with _Step(timings, "prepare", len(df)):
        data, part, split, tau, y, n_unlabelled = prepare(df, settings)
        summary = split_summary(data, part, y)
    for r in summary[summary["product_id"] == "ALL"].itertuples(index=False):
        log.info("train: split %-7s %8d rows  positive rate %.4f  %s .. %s", r.split, r.rows, r.positive_rate,
                 r.start_at, r.end_at)
    log.info("train: tau (q=%.2f, from train only) %s", m.tau_quantile,
             ", ".join(f"{k}={v:.4f} bps" for k, v in sorted(tau.items())))
    models = fit_models(data, part, y, columns, settings, timings, shuffle_train_labels, families)
    te = part == TEST
    y_te = y[te]
    ml = best_ml(models) if LOGREG in models else None
    pairs = [(name, base) for name in (LOGREG, HGB) if name in models for base in (PERSISTENCE, ZSCORE)]
    scores = {k: v.p_test for k, v in models.items()}
    if any(v.no_skill for v in models.values()):
        # Also the models' own scores before the skill gate, so the report shows what they would have done.
        scores.update({f"{k}{UNGATED}": v.p_test_ungated for k, v in models.items()})
        pairs += [(f"{a}{UNGATED}", f"{b}{UNGATED}") for a, b in pairs]
    with _Step(timings, "bootstrap", int(te.sum()) * m.bootstrap_samples):
        boot = block_bootstrap(y_te, scores,
                               data.loc[te, "second_at"].to_numpy(dtype="datetime64[us]"),
                               m.bootstrap_block_s, m.bootstrap_samples, m.seed, pairs)
    coef = None
    if LOGREG in models:
        with _Step(timings, "coefficient table"):
            tr = part == TRAIN
            coef = est.coefficient_table(mdata.feature_matrix(data[tr], columns), y[tr], columns, seed=m.seed)
    result = TrainResult(
        feature_columns=columns, sql_version=sql_version,
        sql_fingerprint=mdata.sql_fingerprint(sql_version, settings.features.sql_dir),

        split=split.as_dict(), tau_bps=tau, summary=summary, models=models, chosen=choose_model(models),
        bootstrap=boot, y_val=y[part == VAL], y_test=y_te,
        test_keys=data.loc[te, ["product_id", "second_at", "sigma_future_bps"]].reset_index(drop=True),
        coefficients=coef, data_range=(str(df["second_at"].min()), str(df["second_at"].max())),
        rows_total=len(df), rows_unlabelled=n_unlabelled, seed=m.seed, tau_quantile=m.tau_quantile,
        timings_s=timings, bootstrap_block_s=m.bootstrap_block_s,
        example_rows=pd.DataFrame(mdata.feature_matrix(data[te].head(5), columns), columns=columns))
    result.verdict = verdict(result)
    if ml:
        log.info("train: %s", result.verdict)
    return result


def predictions_frame(result: TrainResult) -> pd.DataFrame:
    out = result.test_keys.copy()
    out["label"] = result.y_test
    for name, r in result.models.items():
        out[f"p_{name}"] = r.p_test
    chosen = result.models[result.chosen]
    out["probability"] = chosen.p_test
    out["is_spike"] = chosen.p_test >= chosen.threshold
    return out


def model_meta(result: TrainResult, model_version: str) -> dict[str, Any]:
    chosen = result.models[result.chosen]
    return {
        "feature_columns": result.feature_columns,
        "tau_bps": result.tau_bps,
        "threshold": chosen.threshold,
        "sql_version": result.sql_version,
        "sql_fingerprint": result.sql_fingerprint,
        "model_version": model_version,
        "model_name": result.chosen,
        "trained_at": datetime.now(UTC).strftime("%Y-%m-%dT%H:%M:%SZ"),
        "metrics": {"test": chosen.test, "val": chosen.val},
        "data_start_at": result.data_range[0],
        "data_end_at": result.data_range[1],
        "seed": result.seed,
    }


def train(settings: Settings, features: str | None = None, warehouse: str | None = None, sql_version: str = "",
          *, labels: str | None = None, log_mlflow: bool = True, report: bool = True, model_card: str | None = None,
          shuffle_train_labels: bool = False, families: tuple[str, ...] = (LOGREG, HGB)) -> TrainResult:
    """The training job behind `glue train` and `models/train.py`."""
    t0 = time.perf_counter()
    m = settings.model
    with _Step({}, "load features"):
        df = load_frame(features, warehouse, sql_version or settings.features.sql_version, labels)
    log.info("train: %d rows, %d products, %s .. %s", len(df), df["product_id"].nunique(),
             df["second_at"].min(), df["second_at"].max())
    result = run_training(df, settings, shuffle_train_labels=shuffle_train_labels, families=families)
    model_version = "local"
    if log_mlflow:
        from glue.modeling.tracking import log_result

        with _Step(result.timings_s, "mlflow logging"):
            model_version = log_result(result, settings)
        result.registered_version = "" if model_version == "local" else model_version
    out = Path(m.artifacts_dir)
    with _Step(result.timings_s, "write artifacts"):
        from glue.modeling.artifacts import write_artifacts

        chosen = result.models[result.chosen]
        write_artifacts(out, chosen.estimator, model_meta(result, model_version), result.metrics_json())
        if result.coefficients is not None:
            result.coefficients.to_csv(out / "coefficients.csv", index=False, float_format="%.6g")
        predictions_frame(result).to_parquet(out / "predictions_test.parquet", index=False)
        result.artifacts_dir = str(out)
    if report:
        from glue.modeling.report import write_report

        with _Step(result.timings_s, "report PDF"):
            result.report_path = str(write_report(result, Path(m.reports_dir) / "model_eval.pdf"))
    if model_card:
        from glue.modeling.model_card import write_model_card

        source = f"warehouse {warehouse} ({TRAINING_VIEW_NAME})" if warehouse else f"features `{features}`"
        if labels:
            source += f" with labels `{labels}`"
        write_model_card(result, model_card, data_source=f"Data: {source}",
                         figures_dir=Path(m.reports_dir) / "figures")
    log.info("train: finished in %.1f s; chosen %s; artifacts in %s", time.perf_counter() - t0, result.chosen, out)
    return result
