"""`glue handoff`: assemble the team bundle (thin wrapper over glue.handoff)."""

from __future__ import annotations

import click


@click.command("handoff")
@click.option("--out", default="handoff/bundle", show_default=True, help="Bundle directory (replaced if present).")
@click.option("--predictions", default=None,
              help="Predictions file to include (default: predictions.ndjson|.parquet beside features.parquet).")
@click.option("--model-card", default=None,
              help="Model card to include (default: the run's, else docs/model_card_<current SQL version>.md).")
@click.pass_obj
def command(obj, out, predictions, model_card) -> None:
    """Assemble the handoff bundle: deploy files, feature spec, model card, model, data slice, reports.

    Copies the compose file, Dockerfile, .env.example and requirements, the feature spec and model
    card, the model artifacts, the evaluation PDF and Evidently reports and one predictions file,
    cuts the first 10 minutes of the raw archive and replays them into features, and writes the
    "Selected-base" note with the steps to reproduce it and a SHA-256 manifest. If anything is
    missing it fails and lists every missing item.

    \b
    Example:
      make demo && glue --config data/demo/glue.yaml handoff
      glue handoff --out /tmp/bundle --predictions data/processed/predictions.parquet
    """
    from glue.handoff import build_handoff

    settings = obj.settings()
    manifest = build_handoff(settings, out, predictions=predictions, model_card=model_card)
    click.echo(f"handoff: {len(manifest)} files in {out} (see {out}/README.md and {out}/MANIFEST.json)")
