"""Evidently data-drift and data-quality reports for feature data (`glue monitor`).

Owns two comparisons over one features file: early vs late half of the time range, and test vs train
under the same time split (and embargo) the training job uses. Each runs an Evidently 0.7 Report with
DataDriftPreset and DataSummaryPreset on columns declared explicitly with DataDefinition (features as
numerical, gap flags and product as categorical; labels are left out so they never appear as drift),
writes HTML and JSON under `reports/evidently/`, and returns a drift summary (which columns drifted,
the share) that the CLI prints and that is logged to MLflow as one run.
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

log = logging.getLogger("glue.monitor")


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

    @property
    def share(self) -> float:
        return len(self.drifted) / self.n_columns if self.n_columns else 0.0

    def line(self) -> str:
        cols = ", ".join(f"{d['column']} ({d['method']} {d['value']:.3g})" for d in self.drifted) or "none"
        return (f"monitor: {self.name}: {len(self.drifted)}/{self.n_columns} columns drifted "
                f"({self.share:.0%}) [{self.current} vs {self.reference}, {self.rows_current:,} vs "
                f"{self.rows_reference:,} rows]: {cols}")


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
            # p-value tests drift when p < threshold; distances when distance >= threshold.
            is_drift = value < threshold if "p_value" in method else value >= threshold
            if is_drift:
                drifted.append({"column": cfg["column"], "method": method, "value": value, "threshold": threshold})
    return drifted, share


def compare(name: str, reference, current, features: list[str], out_dir: Path, ref_label: str,
            cur_label: str) -> DriftSummary:
    from evidently import Dataset, Report
    from evidently.presets import DataDriftPreset, DataSummaryPreset

    definition, columns = _definition(reference, features)
    keep = [*columns, "second_at"]
    ref = Dataset.from_pandas(reference[keep].reset_index(drop=True), data_definition=definition)
    cur = Dataset.from_pandas(current[keep].reset_index(drop=True), data_definition=definition)
    snapshot = Report([DataDriftPreset(), DataSummaryPreset()]).run(cur, ref)  # current first
    out_dir.mkdir(parents=True, exist_ok=True)
    html, js = out_dir / f"{name}.html", out_dir / f"{name}.json"
    snapshot.save_html(str(html))
    snapshot.save_json(str(js))
    drifted, share = drifted_columns(json.loads(js.read_text()))
    return DriftSummary(name=name, reference=ref_label, current=cur_label, rows_reference=len(reference),
                        rows_current=len(current), n_columns=len(columns), drifted=drifted,
                        dataset_drift_share=share, html_path=str(html), json_path=str(js))


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
    for name, ref, cur, ref_label, cur_label in pairs:
        log.info("monitor: %s: Evidently report on %d vs %d rows (sampled to <= %d) ...", name, len(cur),
                 len(ref), max_rows)
        s = compare(name, _sample(ref, max_rows, m.seed), _sample(cur, max_rows, m.seed), cols, out, ref_label,
                    cur_label)
        s.rows_reference, s.rows_current = len(ref), len(cur)
        log.info("%s", s.line())
        summaries.append(s)
    if log_mlflow:
        _log_mlflow(settings, summaries, features)
    return summaries


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
