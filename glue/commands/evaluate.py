"""`glue evaluate`: leave-one-capture-out evaluation over real captures (thin wrapper over glue.modeling.crossval)."""

from __future__ import annotations

import click


@click.command("evaluate")
@click.option("--captures", required=True, type=click.Path(exists=True, file_okay=False),
              help="Directory holding one folder per capture set, e.g. ../shared/data/coinbase.")
@click.option("--label", "labels", multiple=True, type=click.Choice(["assignment", "relative"]),
              help="Label(s) to evaluate (default: both); repeatable.")
@click.option("--reference-s", type=int, default=600, show_default=True,
              help="Trailing reference window of the relative label, seconds (a multiple of 300 on SQL v4).")
@click.option("--budget", type=float, default=0.05, show_default=True,
              help="Alert budget: share of each fold's seconds alerted on (precision at the top share).")
@click.option("--level", type=float, default=0.90, show_default=True, help="Bootstrap interval level of the lifts.")
@click.option("--bootstrap-samples", type=int, default=300, show_default=True, help="Block-bootstrap resamples.")
@click.option("--report", default="reports/model_eval.pdf", show_default=True,
              help="PDF report (the Markdown source goes beside it).")
@click.option("--model-card", default=None, help="Model card whose evaluation section is rewritten "
              "(default: docs/model_card_<current SQL version>.md; '' for none).")
@click.option("--choose-on", type=click.Choice(["tail", "captures"]), default="tail", show_default=True,
              help="Where each fold picks its champion: the validation tails of the training captures, or "
              "held-out training captures (each predicted by models fitted on the others; about 6x slower).")
@click.option("--no-mlflow", is_flag=True, help="Do not log to MLflow.")
@click.pass_obj
def command(obj, captures, labels, reference_s, budget, level, bootstrap_samples, report, model_card,
            choose_on, no_mlflow) -> None:
    """Evaluate the champion rule (ML model only if it beats HAR/persistence on validation) across captures:
    leave-one-capture-out, session-blocked walk-forward inside the long capture; per-fold and pooled
    PR-AUC beside the positive rate, precision at the alert budget, lift over HAR and persistence with
    block-bootstrap intervals. Logs to MLflow; writes the report and the model card's table.

    \b
    Example:
      glue evaluate --captures ../shared/data/coinbase
      glue evaluate --captures ../shared/data/coinbase --label relative --reference-s 1800
      glue evaluate --captures ../shared/data/coinbase --choose-on captures --report /tmp/h.pdf --model-card ''
    """
    from glue.modeling.crossval import LABELS, evaluate
    from glue.modeling.model_card import model_card_path

    settings = obj.settings()
    card = model_card_path(settings.features.sql_dir) if model_card is None else (model_card or None)
    result = evaluate(settings, captures, labels=tuple(labels) or LABELS, budget=budget, level=level,
                      n_boot=bootstrap_samples, ref_s=reference_s, report=report or None, model_card=card,
                      log_mlflow=not no_mlflow, choose_on=choose_on,
                      command=f"glue evaluate --captures {captures} --reference-s {reference_s}"
                      + (f" --choose-on {choose_on}" if choose_on != "tail" else ""))
    click.echo(result.markdown)
