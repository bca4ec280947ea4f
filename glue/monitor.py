"""Evidently data-drift and data-quality reports for feature data (`glue monitor`).

Owns two comparisons over one features file: early vs late half of the time range, and test vs train
under the same time split (and embargo) the training job uses. Each runs an Evidently 0.7 Report with
DataDriftPreset and DataSummaryPreset on columns declared explicitly with DataDefinition (features as
numerical, gap flags and product as categorical; labels are left out so they never appear as drift),
writes HTML and JSON under `reports/evidently/`, and returns a drift summary (which columns drifted,
the share) that the CLI prints and that is logged to MLflow as one run.

Drift on raw feature columns of an autocorrelated series says little (price levels and counts drift by
construction; a p-value test treats 10,000 dependent seconds as 10,000 independent draws and flags
nearly everything). So each comparison is repeated on **what the model sees** (`inputs_<name>`): the
model inputs (`glue.modeling.inputs.ModelInputs`, fitted on the reference side), thinned to one row per
`THIN_S` seconds, tested with the population stability index (`INPUT_METHOD` = "psi", drift when PSI >=
`INPUT_THRESHOLD` = 0.25, the conventional "significant shift"): a distance between binned
distributions, not a test whose p-value shrinks with the (inflated) sample size. Beside it: the rate of
the model's own label (tau for the assignment label, k and the trailing reference for the relative one)
and the model's alert rate on both sides (when a model is in `model.artifacts_dir`). Which drifts matter
(`DriftSummary.matters`): a label rate that moved by more than `RATE_FACTOR` (the threshold no longer
means the same: retrain, or alert on the regime-relative label); an
alert rate that moved by more than `RATE_FACTOR` (the alert volume an operator sees changed); input
drift matters only with one of those; raw-column drift alone does not.
"""

from __future__ import annotations

import json
import logging
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from glue.config import Settings
from glue.errors import GlueError

log = logging.getLogger("glue.monitor")

INPUT_METHOD = "psi"
INPUT_THRESHOLD = 0.25
THIN_S = 30
RATE_FACTOR = 2.0
P_VALUE_METHODS = {"ks", "chisquare", "z", "t_test", "mannw", "anderson", "cramer_von_mises", "epps_singleton",
                   "fisher_exact", "g_test", "empirical_mmd"}


@dataclass
class DriftSummary:
    name: str
    reference: str
    current: str
    rows_reference: int
    rows_current: int
    n_columns: int
    drifted: list[dict[str, Any]] = field(default_factory=list)
    dataset_drift_share: float = float("nan")
    html_path: str = ""
    json_path: str = ""
    rates: dict[str, dict[str, float]] = field(default_factory=dict)  # label_rate / alert_rate per side
    matters: list[str] = field(default_factory=list)

    @property
    def share(self) -> float:
        return len(self.drifted) / self.n_columns if self.n_columns else 0.0

    def line(self) -> str:
        cols = ", ".join(f"{d['column']} ({d['method']} {d['value']:.3g})" for d in self.drifted) or "none"
        rates = "; ".join(f"{k} {v['reference']:.3f} -> {v['current']:.3f}" for k, v in self.rates.items())
        return (f"monitor: {self.name}: {len(self.drifted)}/{self.n_columns} columns drifted "
                f"({self.share:.0%}) [{self.current} vs {self.reference}, {self.rows_current:,} vs "
                f"{self.rows_reference:,} rows]: {cols}" + (f"; {rates}" if rates else "")
                + (f"; MATTERS: {' '.join(self.matters)}" if self.matters else ""))


def _definition(df, features: list[str]):
    from evidently import DataDefinition

    categorical = ["product_id"] + [c for c in features if df[c].dtype == bool]
    numerical = [c for c in features if c not in categorical]
    return DataDefinition(numerical_columns=numerical, categorical_columns=categorical,
                          datetime_columns=["second_at"]), numerical + categorical


def _sample(df, max_rows: int, seed: int):
    if len(df) <= max_rows:
        return df
    idx = np.sort(np.random.default_rng(seed).choice(len(df), size=max_rows, replace=False))
    return df.iloc[idx]


def drifted_columns(report: dict[str, Any]) -> tuple[list[dict[str, Any]], float]:
    """From a snapshot's dict: the ValueDrift results over their threshold, and the drifted share."""
    drifted, share = [], float("nan")
    for metric in report.get("metrics", []):
        cfg = metric.get("config", {})
        kind = str(cfg.get("type", ""))
        if kind.endswith("DriftedColumnsCount"):
            share = float(metric["value"]["share"])
        elif kind.endswith("ValueDrift"):
            value, threshold, method = float(metric["value"]), float(cfg["threshold"]), str(cfg["method"])
            # p-value tests drift when p < threshold; distances when distance >= threshold. Evidently names a
            # test by its short id when it was asked for by name ("ks"), by a "... p_value" title otherwise.
            is_p_value = "p_value" in method or method.lower() in P_VALUE_METHODS
            is_drift = value < threshold if is_p_value else value >= threshold
            if is_drift:
                drifted.append({"column": cfg["column"], "method": method, "value": value, "threshold": threshold})
    return drifted, share


def compare(name: str, reference, current, features: list[str], out_dir: Path, ref_label: str,
            cur_label: str, num_method: str | None = None, num_threshold: float | None = None) -> DriftSummary:
    from evidently import Dataset, Report
    from evidently.presets import DataDriftPreset, DataSummaryPreset

    definition, columns = _definition(reference, features)
    keep = [*columns, "second_at"]
    ref = Dataset.from_pandas(reference[keep].reset_index(drop=True), data_definition=definition)
    cur = Dataset.from_pandas(current[keep].reset_index(drop=True), data_definition=definition)
    preset = DataDriftPreset(num_method=num_method, num_threshold=num_threshold) if num_method else DataDriftPreset()
    snapshot = Report([preset, DataSummaryPreset()]).run(cur, ref)  # current first
    out_dir.mkdir(parents=True, exist_ok=True)
    html, js = out_dir / f"{name}.html", out_dir / f"{name}.json"
    snapshot.save_html(str(html))
    snapshot.save_json(str(js))
    drifted, share = drifted_columns(json.loads(js.read_text()))
    return DriftSummary(name=name, reference=ref_label, current=cur_label, rows_reference=len(reference),
                        rows_current=len(current), n_columns=len(columns), drifted=drifted,
                        dataset_drift_share=share, html_path=str(html), json_path=str(js))


def model_inputs_frame(reference: pd.DataFrame, current: pd.DataFrame,
                      columns: list[str]) -> tuple[pd.DataFrame, pd.DataFrame, list[str]]:
    """Both sides as the model sees them (inputs fitted on the reference), thinned to one row per THIN_S s."""
    from glue.modeling.data import feature_matrix
    from glue.modeling.inputs import ModelInputs

    inputs = ModelInputs(columns).fit(feature_matrix(reference, columns))
    names = list(inputs.names_)

    def frame(df: pd.DataFrame) -> pd.DataFrame:
        seconds = df["second_at"].to_numpy(dtype="datetime64[s]").astype(np.int64)
        sub = df[seconds % THIN_S == 0]
        out = pd.DataFrame(inputs.transform(feature_matrix(sub, columns)), columns=names)
        out["product_id"] = sub["product_id"].to_numpy()
        out["second_at"] = sub["second_at"].to_numpy()
        return out

    return frame(reference), frame(current), names


def label_rate(df: pd.DataFrame, scorer) -> float:
    """The rate of the scorer's own label over the rows that carry it: sigma_future >= tau (assignment), or
    sigma_future / the trailing reference >= k (relative; rows with an incomplete reference carry none)."""
    from glue.modeling.labels import RELATIVE, apply_k, relative_ratio
    from glue.modeling.tau import tau_for

    if scorer.label == RELATIVE:
        if scorer.k is None:
            return float("nan")
        ratio = relative_ratio(df, scorer.reference_s)
        ratio = ratio[np.isfinite(ratio)]
        return float(np.mean(apply_k(ratio, scorer.k))) if len(ratio) else float("nan")
    sub = df[df["sigma_future_bps"].notna()]
    tau = tau_for(scorer.tau_bps, sub["product_id"])
    return float(np.mean(sub["sigma_future_bps"].to_numpy(dtype=float) >= tau)) if len(sub) else float("nan")


def rates(reference: pd.DataFrame, current: pd.DataFrame, scorer) -> dict[str, dict[str, float]]:
    """The label rate of the model's own label (tau or k) and the model's alert rate, per side."""
    out: dict[str, dict[str, float]] = {}
    if "sigma_future_bps" in reference.columns and (scorer.tau_bps or scorer.k is not None):
        out["label_rate"] = {"reference": label_rate(reference, scorer), "current": label_rate(current, scorer)}
    out["alert_rate"] = {"reference": float(np.mean(scorer.predict(reference))),
                         "current": float(np.mean(scorer.predict(current)))}
    return out


def what_matters(summary: DriftSummary) -> list[str]:
    """The drifts worth acting on (module docstring)."""
    said = []
    for key, v in summary.rates.items():
        a, b = v["reference"], v["current"]
        if not (np.isfinite(a) and np.isfinite(b)):
            continue
        moved = (b > RATE_FACTOR * a or a > RATE_FACTOR * b) if min(a, b) > 0 else a != b
        if moved and key == "label_rate":
            said.append(f"label rate {a:.3f} -> {b:.3f}: the label's threshold (tau or k) no longer means the "
                        "same; retrain, or (assignment label) alert on the regime-relative one.")
        elif moved:
            said.append(f"alert rate {a:.3f} -> {b:.3f}: the alert volume changed; check the threshold.")
    if said and summary.drifted:
        said.append("Drifted inputs: " + ", ".join(d["column"] for d in summary.drifted[:8]) + ".")
    return said


def run_monitor(settings: Settings, features: str, out_dir: str | None = None, max_rows: int = 50_000,
                log_mlflow: bool = True) -> list[DriftSummary]:
    """Early-vs-late and test-vs-train drift and quality reports for a features file."""
    from glue.modeling.data import feature_columns, read_features
    from glue.modeling.splits import TEST, TRAIN, assign, time_split

    m = settings.model
    out = Path(out_dir or Path(m.reports_dir) / "evidently")
    df = read_features(features)
    cols = feature_columns(df)
    log.info("monitor: %d rows, %d feature columns from %s", len(df), len(cols), features)
    seconds = np.unique(df["second_at"].to_numpy())
    mid = pd.Timestamp(seconds[len(seconds) // 2])
    early, late = df[df["second_at"] < mid], df[df["second_at"] >= mid]
    split = time_split(df["second_at"], m.train_frac, m.val_frac, m.embargo_s, settings.features.horizon_s)
    part = assign(df["second_at"], split)
    pairs = [("early_vs_late", early, late, f"before {mid}", f"from {mid}"),
             ("test_vs_train", df[part == TRAIN], df[part == TEST], "train", "test")]
    summaries = []
    scorer = _scorer(m.artifacts_dir)
    for name, ref, cur, ref_label, cur_label in pairs:
        log.info("monitor: %s: Evidently report on %d vs %d rows (sampled to <= %d) ...", name, len(cur),
                 len(ref), max_rows)
        s = compare(name, _sample(ref, max_rows, m.seed), _sample(cur, max_rows, m.seed), cols, out, ref_label,
                    cur_label)
        s.rows_reference, s.rows_current = len(ref), len(cur)
        log.info("%s", s.line())
        summaries.append(s)
        zr, zc, names = model_inputs_frame(ref, cur, cols)
        si = compare(f"inputs_{name}", zr, zc, names, out, ref_label, cur_label, INPUT_METHOD, INPUT_THRESHOLD)
        si.rows_reference, si.rows_current = len(zr), len(zc)
        if scorer is not None:
            try:
                si.rates = rates(ref, cur, scorer)
            except GlueError as exc:  # a model of another SQL version: say so, report the drift anyway
                log.warning("monitor: rates not reported (%s)", exc)
        si.matters = what_matters(si)
        log.info("%s", si.line())
        summaries.append(si)
    if log_mlflow:
        _log_mlflow(settings, summaries, features)
    return summaries


def _scorer(artifacts_dir: str):
    """The model in `artifacts_dir` when there is one (its tau and threshold give the rates), else None."""
    from glue.modeling.scorer import load_scorer

    try:
        return load_scorer(artifacts_dir)
    except GlueError as exc:
        log.info("monitor: no model in %s (%s); label and alert rates not reported", artifacts_dir, exc)
        return None


def _log_mlflow(settings: Settings, summaries: list[DriftSummary], features: str) -> None:
    import mlflow

    from glue.modeling.tracking import git_revision, setup

    exp_id = setup(settings)
    with mlflow.start_run(experiment_id=exp_id, run_name="monitor") as run:
        mlflow.set_tags({"kind": "monitor", "features": features, "git_revision": git_revision()})
        for s in summaries:
            mlflow.log_metrics({f"{s.name}_drift_share": s.share, f"{s.name}_drifted_columns": len(s.drifted)})
            mlflow.log_dict({"drifted": s.drifted, "share": s.share}, f"drift/{s.name}_summary.json")
            mlflow.log_artifact(s.html_path, "evidently")
            mlflow.log_artifact(s.json_path, "evidently")
        log.info("monitor: logged to MLflow run %s", run.info.run_id)
