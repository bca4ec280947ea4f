"""`glue ingest`: Coinbase Advanced Trade WebSocket frames into Kafka `ticks.raw` and the NDJSON archive.

Modules: `runner` (the connection loop and `run_ingest`), `tracker` (frame classification and
sequence tracking, pure), `resnapshot` (when to re-request level2 snapshots after a gap, pure),
`backoff` (reconnect delays), `pipeline` (archive first, then produce), `sink` (the Kafka producer
that never drops), `spool` (the disk queue used while Kafka is away), `jwt` (optional CDP JWT).
"""

from glue.ingest.runner import IngestSummary, run_ingest, subscribe_messages

__all__ = ["IngestSummary", "run_ingest", "subscribe_messages"]
