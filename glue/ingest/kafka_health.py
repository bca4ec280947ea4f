"""Broker health as ingest logs it: one line when the broker goes away, a status line while it stays away, one
line when it is back; librdkafka's own per-attempt lines kept at DEBUG.

librdkafka reports every failed connection attempt (`Connection refused`, a SASL handshake refused, ...)
through its log callback and `error_cb`, many times a second during an outage. `BrokerHealth` turns those
into state changes: `on_error` (from `error_cb`) marks the broker away on transport-level errors and
remembers an authentication failure (not transient: ingest stops on it); `on_ack` (a delivery report
without error) marks it back; `tick` (from the sink's service loop) writes the periodic status line with
the spool size. `QuietLibrdkafkaLog` is the `logger` handed to the producer: it logs librdkafka's lines
at DEBUG under `glue.ingest.librdkafka`, so they are there with `--log-level DEBUG` and silent otherwise.
"""

from __future__ import annotations

import logging
import time
from typing import Any

log = logging.getLogger("glue.ingest.kafka")

STATUS_INTERVAL_S = 30.0


class QuietLibrdkafkaLog:
    """A logging.Logger stand-in for confluent-kafka's `logger` setting: every line at DEBUG."""

    def __init__(self, name: str = "glue.ingest.librdkafka") -> None:
        self._log = logging.getLogger(name)

    def log(self, level: int, msg: str, *args: Any, **kwargs: Any) -> None:
        self._log.debug(msg, *args)

    def __getattr__(self, name: str) -> Any:  # debug/info/... if the client ever uses them
        return getattr(self._log, name)


def _code_name(err: Any) -> str:
    name = getattr(err, "name", None)
    return name() if callable(name) else str(err)


class BrokerHealth:
    """Away / back state of the brokers, from client errors and delivery reports."""

    def __init__(self, bootstrap: str, status_interval_s: float = STATUS_INTERVAL_S) -> None:
        self.bootstrap = bootstrap
        self.status_interval_s = status_interval_s
        self.away = False
        self.away_since = 0.0
        self.outages = 0
        self.auth_error = ""
        self._next_status = 0.0

    def on_error(self, err: Any) -> None:
        from confluent_kafka import KafkaError

        code = err.code() if hasattr(err, "code") else None
        if code in (KafkaError._AUTHENTICATION, KafkaError.SASL_AUTHENTICATION_FAILED,
                    KafkaError.TOPIC_AUTHORIZATION_FAILED, KafkaError.CLUSTER_AUTHORIZATION_FAILED,
                    KafkaError._SSL):
            if not self.auth_error:
                self.auth_error = f"{_code_name(err)}: {err.str() if hasattr(err, 'str') else err}"
                log.error("kafka: %s refused the client (%s)", self.bootstrap, self.auth_error)
            return
        if code in (KafkaError._ALL_BROKERS_DOWN, KafkaError._TRANSPORT, KafkaError._RESOLVE,
                    KafkaError._TIMED_OUT) and not self.away:
            self.away, self.away_since = True, time.monotonic()
            self._next_status = self.away_since + self.status_interval_s
            self.outages += 1
            log.warning("kafka: broker %s unreachable (%s); frames are kept (librdkafka's queue, then the spool) "
                        "and sent when it is back", self.bootstrap, err.str() if hasattr(err, "str") else err)
        else:
            log.debug("kafka: %s", err)

    def on_ack(self) -> None:
        if self.away:
            self.away = False
            log.info("kafka: broker %s is back after %.0f s; sending what was kept", self.bootstrap,
                     time.monotonic() - self.away_since)

    def tick(self, in_flight: int, spooled: int) -> None:
        if self.away and time.monotonic() >= self._next_status:
            self._next_status = time.monotonic() + self.status_interval_s
            log.warning("kafka: broker %s still unreachable after %.0f s: %d message(s) in librdkafka's queue, "
                        "%d in the spool", self.bootstrap, time.monotonic() - self.away_since, in_flight, spooled)
