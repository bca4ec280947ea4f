"""`glue train`: train baselines and models on time-based splits (thin wrapper over glue.modeling.train)."""

from __future__ import annotations

import click


@click.command("train")
@click.option("--features", default=None, help="Features Parquet file or directory with sigma_future_bps "
              "(default: features.parquet unless --from-warehouse is given).")
@click.option("--labels", default=None, help="Labels Parquet to join on (product_id, second_at), e.g. from "
              "`glue replay --labels-out` (when --features has no sigma_future_bps).")
@click.option("--from-warehouse", "warehouse", default=None, help="Read the training view of this DuckDB warehouse.")
@click.option("--sql-version", default=None, help="Pin the SQL version to train on (default: features.sql_version).")
@click.option("--artifacts", default=None, help="Artifacts directory (default: model.artifacts_dir).")
@click.option("--tracking-uri", default=None, help="MLflow tracking URI (default: model.tracking_uri).")
@click.option("--experiment", default=None, help="MLflow experiment (default: model.experiment).")
@click.option("--seed", type=int, default=None, help="Random seed (default: model.seed).")
@click.option("--tau-quantile", type=float, default=None, help="tau (and k) = this quantile of train sigma_future_bps "
              "(of the ratio, for the relative label).")
@click.option("--label", type=click.Choice(["assignment", "relative"]), default=None,
              help="Label to train on and alert on (default: model.label).")
@click.option("--train-frac", type=float, default=None, help="Share of labelled seconds for train (model.train_frac).")
@click.option("--val-frac", type=float, default=None, help="Share of labelled seconds for validation (model.val_frac).")
@click.option("--bootstrap-samples", type=int, default=None, help="Bootstrap resamples for the CIs.")
@click.option("--reports-dir", default=None, help="Where train_eval.pdf goes (default: model.reports_dir).")
@click.option("--model-card", default=None, help="Also (re)write the model card here, e.g. "
              "docs/model_card_<SQL version>.md.")
@click.option("--no-hgb", is_flag=True, help="Skip the gradient-boosting candidate (faster).")
@click.option("--no-mlflow", is_flag=True, help="Do not log to MLflow (artifacts and report only).")
@click.pass_obj
def command(obj, features, labels, warehouse, sql_version, artifacts, tracking_uri, experiment, seed, tau_quantile,
            label, train_frac, val_frac, bootstrap_samples, reports_dir, model_card, no_hgb, no_mlflow) -> None:
    """Train the persistence and z-score baselines, logistic regression and (if it earns its place)
    gradient boosting; evaluate honestly on a time-ordered test set; log to MLflow; register the chosen
    model with the alias; write models/artifacts/ and reports/train_eval.pdf.

    \b
    Example:
      glue train --features data/processed/features.parquet
      glue train --features data/processed/features.parquet --labels data/processed/labels.parquet
      glue train --from-warehouse warehouse.duckdb --sql-version v4 --model-card docs/model_card_v4.md
      mlflow ui --backend-store-uri sqlite:///mlflow.db    # then open #/experiments/<id>/runs
    """
    from glue.modeling.training import HGB, ML_MODELS, train

    settings = obj.settings(model__artifacts_dir=artifacts, model__tracking_uri=tracking_uri,
                            model__experiment=experiment, model__seed=seed, model__tau_quantile=tau_quantile,
                            model__label=label,
                            model__train_frac=train_frac, model__val_frac=val_frac,
                            model__bootstrap_samples=bootstrap_samples, model__reports_dir=reports_dir,
                            features__sql_version=sql_version)
    if not warehouse and not features:
        features = settings.features.parquet
    families = tuple(f for f in ML_MODELS if not (no_hgb and f == HGB))
    result = train(settings, features=features, warehouse=warehouse, labels=labels,
                   sql_version=settings.features.sql_version,
                   log_mlflow=not no_mlflow, model_card=model_card, families=families)
    click.echo(summary_text(result))


def summary_text(result) -> str:
    lines = [f"{'model':22} {'PR-AUC':>7} {'95% CI':>17} {'pos.rate':>8} {'F1':>6} {'ROC-AUC':>7} {'Brier':>7} "
             f"{'skill p':>7} {'raw':>7}"]
    for name, m in result.models.items():
        b = result.bootstrap.get(name, {})
        ci = f"[{b.get('ci_low', float('nan')):.3f}, {b.get('ci_high', float('nan')):.3f}]"
        lines.append(f"{name:22} {m.test['pr_auc']:7.3f} {ci:>17} {m.test['positive_rate']:8.3f} "
                     f"{m.test['f1']:6.3f} {m.test['roc_auc']:7.3f} {m.test['brier']:7.4f} {m.skill_p_value:7.3f} "
                     f"{m.test_ungated.get('pr_auc', float('nan')):7.3f}")
    lines.append(f"verdict: {result.verdict}")
    lines.append(f"artifacts: {result.artifacts_dir}  report: {result.report_path or '-'}  "
                 f"registered: {result.registered_version or '-'}")
    return "\n".join(lines)
