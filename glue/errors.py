"""The one exception hierarchy of the project.

Library code raises these; the CLI turns any `GlueError` into a single line on stderr
("error: <what was wrong>. <what to do>") and a non-zero exit code. Nothing else should
need to catch broad exceptions to produce a user-facing message.
"""

from __future__ import annotations


class GlueError(Exception):
    """Base class: `str(err)` is the one-line message shown to the user."""

    exit_code = 1

    def __init__(self, message: str, hint: str | None = None) -> None:
        self.message = message
        self.hint = hint
        super().__init__(message)

    def __str__(self) -> str:
        return f"{self.message}. {self.hint}" if self.hint else self.message


class ConfigError(GlueError):
    """A setting is missing, malformed or contradictory."""

    exit_code = 2


class KafkaUnavailable(GlueError):
    """The broker cannot be reached or a topic is missing."""

    exit_code = 3


class ProtocolError(GlueError):
    """A message does not follow the Coinbase Advanced Trade protocol."""


class DataError(GlueError):
    """Input data is missing, empty or malformed beyond what dead-lettering can absorb."""

    exit_code = 4


class WarehouseError(GlueError):
    """The DuckDB warehouse is locked, corrupt, or at an unexpected SQL version."""

    exit_code = 5


class ModelError(GlueError):
    """A model cannot be loaded, or does not match the features it is given."""

    exit_code = 6


class CheckFailed(GlueError):
    """A validation command (`glue check`) found the data insufficient or broken."""

    exit_code = 7


class IngestFailed(GlueError):
    """An ingest run delivered nothing: no frame, no data frame (the exchange refused), or Kafka refused it."""

    exit_code = 8
