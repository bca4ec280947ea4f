"""Prometheus metrics of the services: every definition in one place, and the /metrics server.

`glue ingest`, `glue featurize` and `glue score` each call `serve(port, host)` once (port 0 = off) and
touch the metric objects below from one-line hooks, so the services stay free of metric plumbing.
Names follow the Prometheus conventions: `glue_<service>_<what>_<unit>`, counters end in `_total`,
durations are histograms in seconds. The client library's default process/platform collectors stay
on (CPU seconds, resident memory, open files) because they are what a scrape of a stuck service needs.

prometheus-client keeps its metrics in one registry per process; each service is its own process,
so the definitions of the other services are simply never incremented there (they show as 0).
"""

from __future__ import annotations

import logging
from typing import Any

from prometheus_client import Counter, Gauge, Histogram, start_http_server

from glue.errors import ConfigError

log = logging.getLogger("glue.metrics")

# Latency buckets from 1 ms to 30 s: a live stage that takes longer than that is an outage, not a latency.
LATENCY_BUCKETS = (0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0, 30.0)

# -- glue ingest ------------------------------------------------------------------------------
INGEST_FRAMES = Counter("glue_ingest_frames_total", "WebSocket frames received (all channels, heartbeats too)")
INGEST_RECONNECTS = Counter("glue_ingest_reconnects_total", "Connections opened after the first one")
INGEST_SEQ_GAPS = Counter("glue_ingest_sequence_gaps_total", "sequence_num gaps seen (data_gap markers, seq_gap)")
INGEST_MARKERS = Counter("glue_ingest_markers_total", "Markers written about the stream, by type", ["type"])

# -- glue featurize ---------------------------------------------------------------------------
FEATURIZE_RECORDS = Counter("glue_featurize_records_total", "ticks.raw records landed in DuckDB")
FEATURIZE_DEAD_LETTERS = Counter("glue_featurize_dead_letters_total", "ticks.raw records sent to the dead-letter topic")
FEATURIZE_ROWS = Counter("glue_featurize_rows_total", "Final feature rows published to ticks.features")
FEATURIZE_BATCH = Histogram(
    "glue_featurize_batch_seconds", "Time of one micro-batch (land, finalize, export, snapshot)",
    buckets=LATENCY_BUCKETS,
)
FEATURIZE_WATERMARK = Gauge("glue_featurize_watermark_seconds", "Event-time watermark (Unix seconds)")

# -- glue score -------------------------------------------------------------------------------
SCORE_ROWS = Counter("glue_score_rows_total", "Feature rows consumed")
SCORE_PREDICTIONS = Counter("glue_score_predictions_total", "Predictions acknowledged by the broker")
SCORE_ALERTS = Counter("glue_score_alerts_total", "Predictions at or above the decision threshold")
SCORE_DEAD_LETTERS = Counter("glue_score_dead_letters_total", "Feature rows sent to the dead-letter topic")
SCORE_LATENCY = Histogram(
    "glue_score_latency_seconds", "Row arrival in glue score to its prediction acknowledged", buckets=LATENCY_BUCKETS
)

_started: dict[int, Any] = {}


def serve(port: int, host: str = "127.0.0.1", service: str = "glue") -> int:
    """Expose /metrics on host:port in a daemon thread (port 0 = metrics off); returns the port.

    Idempotent per port (tests run several services in one process). A taken port is a `ConfigError`.
    """
    if not port:
        return 0
    if port not in _started:
        try:
            _started[port] = start_http_server(port, addr=host)
        except OSError as exc:
            raise ConfigError(
                f"{service}: cannot serve metrics on {host}:{port} ({exc.strerror or exc})",
                "pick a free port (metrics.*_port) or 0 to turn metrics off",
            ) from exc
        log.info("%s: Prometheus metrics on http://%s:%d/metrics", service, host, port)
    return port


def observe_many(histogram: Histogram, seconds: list[float]) -> None:
    """Observe a batch of durations (the services measure per batch, in milliseconds or seconds)."""
    for value in seconds:
        histogram.observe(value)


def ingest_marker(marker: dict[str, Any]) -> None:
    """Count one ingest marker by type, and sequence gaps apart (the number the health panel shows)."""
    kind = str(marker.get("type", "?"))
    INGEST_MARKERS.labels(kind).inc()
    if kind == "data_gap" and marker.get("reason") == "seq_gap":
        INGEST_SEQ_GAPS.inc()


_seen: dict[tuple[int, str], int] = {}


def _delta(obj: Any, name: str) -> int:
    """How much a run's cumulative counter `obj.name` grew since the last call (the services keep their
    own per-run totals; the hooks hand those over instead of counting twice in the hot path)."""
    key = (id(obj), name)
    now = int(getattr(obj, name, 0) or 0)
    grown = now - _seen.get(key, 0)
    _seen[key] = now
    return max(grown, 0)


def featurize_batch(seconds: float, stats: Any) -> None:
    """After one featurize micro-batch: its duration, and what the run's `FeaturizeStats` gained."""
    FEATURIZE_BATCH.observe(seconds)
    FEATURIZE_RECORDS.inc(_delta(stats, "frames"))
    FEATURIZE_DEAD_LETTERS.inc(_delta(stats, "dead_letters"))
    FEATURIZE_ROWS.inc(_delta(stats, "rows"))
    if getattr(stats, "watermark_ns", 0):
        FEATURIZE_WATERMARK.set(stats.watermark_ns / 1e9)


def score_batch(summary: Any, latencies_ms: list[float]) -> None:
    """After one score batch: what the run's `ScoreSummary` gained, and the batch's latencies."""
    SCORE_ROWS.inc(_delta(summary, "consumed"))
    SCORE_PREDICTIONS.inc(_delta(summary, "predicted"))
    SCORE_ALERTS.inc(_delta(summary, "alerts"))
    SCORE_DEAD_LETTERS.inc(_delta(summary, "dead_lettered"))
    for ms in latencies_ms:
        SCORE_LATENCY.observe(ms / 1000.0)
