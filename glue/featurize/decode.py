"""Records in: a `ticks.raw` Kafka message back to its `glue.records.Record`, or a dead-letter reason."""

from __future__ import annotations

from typing import Any

from glue.records import Record


class BadRecord(ValueError):
    """A `ticks.raw` record that is not in the glue.records encoding; the message is the reason."""


def decode(msg: Any) -> Record:
    """The `Record` a Kafka message carries, or `BadRecord` with a dead-letter reason."""
    value = msg.value()
    if value is None:
        raise BadRecord("empty value")
    try:
        return Record.from_kafka(value, msg.headers())
    except KeyError as exc:
        raise BadRecord(f"missing header {exc.args[0]}") from exc
    except (ValueError, TypeError, AttributeError) as exc:
        raise BadRecord(f"undecodable record ({type(exc).__name__}: {str(exc)[:120]})") from exc
