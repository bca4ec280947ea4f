"""The `glue` command line: a click group whose commands are loaded lazily.

Each command lives in `glue/commands/<name>.py` as a thin click command that parses options,
builds the settings once and calls one library function. Heavy imports happen inside those
functions, so `glue --help` stays instant. Any `GlueError` becomes one line on stderr and a
non-zero exit code.
"""

from __future__ import annotations

import importlib
import logging
import os
import sys
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import click

from glue.errors import GlueError

# name -> (module under glue.commands, one-line help shown by `glue --help`)
COMMANDS: dict[str, tuple[str, str]] = {
    "exchange": ("exchange", "Run the fake Coinbase Advanced Trade exchange (simulator or recording)."),
    "ingest": ("ingest", "Stream Coinbase WebSocket frames into Kafka ticks.raw and the NDJSON archive."),
    "check": ("check", "Validate a topic from the beginning and print counts, gaps and duplicates."),
    "import": ("importer", "Convert other people's captures into the project's archive format."),
    "featurize": ("featurize", "Consume ticks.raw into DuckDB and publish final feature rows."),
    "replay": ("replay", "Run the same SQL views over archived NDJSON and write features."),
    "sql": ("sql", "Run an ad-hoc SQL query on the warehouse (also while featurize runs)."),
    "train": ("train", "Train baselines and models on time-based splits; log to MLflow."),
    "evaluate": ("evaluate", "Leave-one-capture-out evaluation of the models on real captures."),
    "infer": ("infer", "Score a features file with a saved or registered model."),
    "monitor": ("monitor", "Evidently data-drift and data-quality reports."),
    "score": ("score", "Score live feature rows from Kafka and publish predictions."),
    "view": ("view", "Serve the live view: prices, volatility, spike probability, alerts, health."),
    "demo": ("demo", "Run the whole product end to end on a simulated market."),
    "handoff": ("handoff", "Assemble the handoff bundle for the team."),
    "broker": ("broker", "Start, stop or inspect the project's local Kafka broker."),
}


@dataclass
class CliContext:
    """What the group passes to every command: where settings come from."""

    config_path: str
    environ: dict[str, str] = field(default_factory=dict)
    config_required: bool = False  # --config was given: the file must exist

    def settings(self, **overrides: Any):
        """Build the settings once for this command; dotted keys use `__` for dots."""
        from glue.config import load_settings

        dotted = {k.replace("__", "."): v for k, v in overrides.items()}
        return load_settings(self.config_path, self.environ, dotted, config_required=self.config_required)


class LazyGroup(click.Group):
    def list_commands(self, ctx: click.Context) -> list[str]:
        return sorted(COMMANDS)

    def get_command(self, ctx: click.Context, name: str) -> click.Command | None:
        if name not in COMMANDS:
            return None
        module = importlib.import_module(f"glue.commands.{COMMANDS[name][0]}")
        return module.command

    def format_commands(self, ctx: click.Context, formatter: click.HelpFormatter) -> None:
        rows = [(name, COMMANDS[name][1]) for name in self.list_commands(ctx)]
        with formatter.section("Commands"):
            formatter.write_dl(rows)


def _environment() -> dict[str, str]:
    """The process environment over `.env` (the environment wins); read here only."""
    env: dict[str, str] = {}
    if Path(".env").is_file():
        from dotenv import dotenv_values

        env.update({k: v for k, v in dotenv_values(".env").items() if v is not None})
    env.update(os.environ)
    return env


@click.group(cls=LazyGroup, context_settings={"help_option_names": ["-h", "--help"], "max_content_width": 110})
@click.option("--config", "config_path", default="config.yaml", show_default=True, help="Settings file (YAML).")
@click.option("--log-level", default=None, help="DEBUG, INFO, WARNING or ERROR (default from settings).")
@click.version_option(package_name="glue-volatility")
@click.pass_context
def cli(ctx: click.Context, config_path: str, log_level: str | None) -> None:
    """Real-time crypto volatility detection on the Coinbase Advanced Trade feed.

    \b
    Example:
      glue exchange --port 8765 &            # a simulated market
      glue ingest --pair BTC-USD --url ws://127.0.0.1:8765 --minutes 5
    """
    environ = _environment()
    level = (log_level or environ.get("GLUE_LOG_LEVEL") or "INFO").upper()
    logging.basicConfig(
        level=getattr(logging, level, logging.INFO),
        format="%(asctime)s %(levelname)s %(name)s: %(message)s",
        stream=sys.stderr,
    )
    explicit = ctx.get_parameter_source("config_path") is not click.core.ParameterSource.DEFAULT
    ctx.obj = CliContext(config_path=config_path, environ=environ, config_required=explicit)


def main(argv: list[str] | None = None) -> None:
    try:
        cli.main(args=argv, prog_name="glue", standalone_mode=False)
    except GlueError as exc:
        click.echo(f"error: {exc}", err=True)
        sys.exit(exc.exit_code)
    except click.exceptions.Abort:
        click.echo("aborted", err=True)
        sys.exit(130)
    except click.ClickException as exc:
        exc.show()
        sys.exit(exc.exit_code)
    except click.exceptions.Exit as exc:
        sys.exit(exc.exit_code)


if __name__ == "__main__":
    main()
