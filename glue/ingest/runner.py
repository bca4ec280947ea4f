"""`run_ingest`: the connection loop of `glue ingest`, from WebSocket frames to Kafka and the archive.

One asyncio loop, one thread (delivery reports are served from the same loop, so nothing needs a
lock). Per connection: connect (large `max_size` for multi-MB level2 snapshots), send one subscribe
per channel (heartbeats included), read frames, stamp each on receipt (UTC ns, connection id,
ingest sequence), let the tracker decide which markers precede it, and hand both to the pipeline
(archive first, then Kafka). A watchdog closes a connection that has been silent for
`watchdog_s`: silent meaning no *bytes* of a message arrived (counted in the connection's receive
path, so a multi-MB level2 snapshot trickling in over a slow link keeps it alive; pongs do not),
not merely no complete frame; every end of a connection (1000 included, errors, resets, handshake failures such as
HTTP 429) is followed by a reconnect after a capped, jittered backoff. After a `sequence_num` gap on a
connection carrying `level2`, the ticker unsubscribes and resubscribes `level2` there for fresh book
snapshots (rate-limited, see `glue.ingest.resnapshot`; reconnects if they do not come). A ticker task
flushes the pipeline, serves Kafka, drains the spool and logs progress. Stops on the stop event, at
`minutes`, or on SIGINT/SIGTERM, flushing the producer and closing the archive.
"""

from __future__ import annotations

import asyncio
import logging
import os
import secrets
import signal
import threading
import time
from dataclasses import asdict, dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from glue import metrics
from glue.archive import ArchiveWriter
from glue.config import Settings
from glue.errors import ConfigError
from glue.ingest.backoff import Backoff
from glue.ingest.pipeline import Pipeline
from glue.ingest.recovery import Recovery, clear_state, recover_dead_runs, write_state
from glue.ingest.resnapshot import Resnapshot, ResnapshotRequest
from glue.ingest.sink import IdempotentKafkaSink
from glue.ingest.spool import Spool
from glue.ingest.tracker import StreamTracker
from glue.protocol import DATA, ERROR, inspect_frame
from glue.records import (
    CONTROL_KEY,
    KIND_FRAME,
    KIND_MARKER,
    MARKER_CONNECT,
    MARKER_DATA_GAP,
    MARKER_DISCONNECT,
    MARKER_SUBSCRIBED,
    Record,
    fanout_keys,
)

log = logging.getLogger("glue.ingest")

TICK_S = 0.005  # how often the pipeline is flushed and Kafka served when frames are sparse
CLOSE_DRAIN_S = 30.0  # how long a clean stop keeps reading frames in flight before giving up


@dataclass
class IngestSummary:
    """What one ingest run did (printed at the end, returned to tests and the benchmark)."""

    run_id: str
    url: str
    elapsed_s: float = 0.0
    frames: int = 0
    data_frames: int = 0  # frames of a data channel (ticker, l2_data, market_trades, ...)
    markers: int = 0
    bytes_received: int = 0
    connections: int = 0  # connection attempts that opened a WebSocket
    connect_failures: int = 0  # attempts that failed before the WebSocket opened (refused, 429, timeout)
    reconnects: int = 0
    watchdog_fired: int = 0
    close_codes: dict[str, int] = field(default_factory=dict)
    seq_gaps: int = 0
    missing_messages: int = 0
    duplicates: int = 0
    out_of_order: int = 0
    heartbeat_gaps: int = 0
    disconnect_gaps: int = 0
    l2_resnapshots: int = 0  # level2 unsubscribe + subscribe sent after sequence gaps
    l2_resnapshot_timeouts: int = 0  # a requested snapshot did not come: reconnected
    bad_frames: int = 0
    error_frames: int = 0
    unknown_channel: int = 0
    kafka_enabled: bool = True
    kafka_produced: int = 0
    kafka_acked: int = 0
    kafka_spooled_total: int = 0
    kafka_spool_pending: int = 0
    kafka_failed_deliveries: int = 0
    kafka_dead: int = 0
    kafka_unacked_at_exit: int = 0
    latency_p50_ms: float | None = None
    latency_p99_ms: float | None = None
    archive_files: list[str] = field(default_factory=list)
    archive_bytes: int = 0
    stop_reason: str = ""
    recovered_runs: list[str] = field(default_factory=list)  # earlier runs that died (kill -9): recovered
    recovered_resent: int = 0  # their archived records that Kafka never acknowledged, sent at start
    last_connect_error: str = ""
    first_error_frame: str = ""
    kafka_auth_error: str = ""

    def as_dict(self) -> dict[str, Any]:
        return asdict(self)

    def failure(self) -> str | None:
        """Why this run delivered nothing (one line for the user), or None when it did its job."""
        if self.kafka_auth_error:  # first: it may stop the run before any frame
            return (f"Kafka refused the client: {self.kafka_auth_error}; {self.kafka_acked} message(s) acknowledged, "
                    f"the rest is in the archive and the spool. Fix kafka.security_protocol / sasl_* (or "
                    f"GLUE_KAFKA__SASL_PASSWORD) and run again: the spool is sent first")
        if self.frames == 0:
            why = f" (last error: {self.last_connect_error})" if self.last_connect_error else ""
            return (f"no frame received from {self.url} in {self.elapsed_s:.0f} s, {self.connect_failures} "
                    f"connection attempt(s) failed{why}. Check --url (host, port, ws:// or wss://) and the network")
        if self.data_frames == 0 and self.error_frames:
            return (f"no data frame, {self.error_frames} error frame(s) from the exchange "
                    f"({self.first_error_frame!r}). Check --pair (product ids such as BTC-USD) and --channels")
        if self.kafka_enabled and self.kafka_acked == 0 and self.kafka_produced + self.kafka_spool_pending > 0:
            return (f"Kafka acknowledged nothing ({self.kafka_spool_pending} message(s) spooled for the next run). "
                    f"Check --bootstrap / kafka.bootstrap_servers and that the broker is up")
        return None

    def lines(self) -> list[str]:
        rate = self.frames / self.elapsed_s if self.elapsed_s > 0 else 0.0
        out = [
            f"ingest {self.run_id}: {self.frames} frames + {self.markers} markers in {self.elapsed_s:.1f} s "
            f"({rate:,.0f} frames/s), {self.bytes_received / 1e6:.1f} MB, stopped by {self.stop_reason}",
            f"  connections {self.connections} (reconnects {self.reconnects}, failed attempts "
            f"{self.connect_failures}, watchdog {self.watchdog_fired}), closes {self.close_codes or '{}'}",
            f"  sequence: gaps {self.seq_gaps} ({self.missing_messages} messages missing), duplicates "
            f"{self.duplicates}, out of order {self.out_of_order}, heartbeat gaps {self.heartbeat_gaps}, "
            f"disconnect gaps {self.disconnect_gaps}, level2 resnapshots {self.l2_resnapshots} "
            f"(timeouts {self.l2_resnapshot_timeouts})",
            f"  bad frames {self.bad_frames}, error frames {self.error_frames}, unknown channel {self.unknown_channel}",
        ]
        if self.kafka_enabled:
            out.append(
                f"  kafka: produced {self.kafka_produced}, acked {self.kafka_acked}, spooled "
                f"{self.kafka_spooled_total} (pending {self.kafka_spool_pending}), failed deliveries "
                f"{self.kafka_failed_deliveries}, dead {self.kafka_dead}, "
                f"unacked at exit {self.kafka_unacked_at_exit}, "
                f"latency p50 {_ms(self.latency_p50_ms)} p99 {_ms(self.latency_p99_ms)}"
            )
        else:
            out.append("  kafka: disabled (--no-kafka)")
        if self.recovered_runs:
            out.append(f"  recovered {len(self.recovered_runs)} run(s) that did not stop cleanly "
                       f"({', '.join(self.recovered_runs)}): {self.recovered_resent} message(s) re-sent to Kafka, "
                       "the downtime marked as a data_gap (reason restart)")
        out.append(f"  archive: {len(self.archive_files)} file(s), {self.archive_bytes / 1e6:.1f} MB")
        out.extend(f"    {path}" for path in self.archive_files)
        return out


def _ms(value: float | None) -> str:
    return "n/a" if value is None else f"{value:.1f} ms"


def new_run_id() -> str:
    """Sortable and unique: UTC start time plus random hex."""
    return datetime.now(tz=UTC).strftime("%Y%m%dT%H%M%SZ") + "-" + secrets.token_hex(2)


def subscribe_messages(channels: tuple[str, ...] | list[str], products: tuple[str, ...] | list[str],
                       jwt_factory: Any = None) -> list[dict[str, Any]]:
    """One subscribe per channel (the protocol's rule); heartbeats take no product ids."""
    return [_message("subscribe", channel, products, jwt_factory) for channel in channels]


def resnapshot_messages(products: tuple[str, ...] | list[str], jwt_factory: Any = None) -> list[dict[str, Any]]:
    """`unsubscribe` then `subscribe` of level2: the subscribe is answered with a new snapshot per product."""
    return [_message(kind, "level2", products, jwt_factory) for kind in ("unsubscribe", "subscribe")]


def _message(kind: str, channel: str, products: tuple[str, ...] | list[str], jwt_factory: Any) -> dict[str, Any]:
    msg: dict[str, Any] = {"type": kind, "channel": channel}
    if channel != "heartbeats":
        msg["product_ids"] = list(products)
    if jwt_factory is not None:
        msg["jwt"] = jwt_factory()  # a fresh JWT per message: they expire after 2 minutes
    return msg


def _byte_counting_connection() -> type:
    """websockets' ClientConnection that stamps when bytes of *messages* last arrived.

    Stamped in the receive path (`data_received`), so a frame still arriving counts, however long it
    takes; bytes of control frames (pong, ping) do not: a server that answers pings but sends nothing
    else is a stalled feed, and the watchdog must still see it.
    """
    from websockets.asyncio.client import ClientConnection
    from websockets.frames import CTRL_OPCODES

    class ByteCountingConnection(ClientConnection):
        last_bytes_mono = 0.0
        bytes_in = 0
        _control_bytes = 0

        def data_received(self, data: bytes) -> None:
            before = self._control_bytes
            super().data_received(data)
            if len(data) > self._control_bytes - before:
                self.last_bytes_mono = time.monotonic()
            self.bytes_in += len(data)

        def process_event(self, event: Any) -> None:
            if getattr(event, "opcode", None) in CTRL_OPCODES:
                self._control_bytes += 2 + len(event.data)  # control frames: 2-byte header, <= 125 bytes
            super().process_event(event)

    return ByteCountingConnection


def run_ingest(
    settings: Settings,
    stop_event: threading.Event | None = None,
    *,
    kafka_enabled: bool = True,
    run_id: str | None = None,
    spool_high_water: int = 50_000,
    spool_low_water: int = 10_000,
    kafka_close_timeout_s: float = 30.0,
    data_watchdog_s: float = 0.0,
    install_signal_handlers: bool | None = None,
) -> IngestSummary:
    """Run ingest until `stop_event` is set, `settings.ingest.minutes` pass, or SIGINT/SIGTERM.

    `data_watchdog_s` > 0 also reconnects when heartbeats keep coming but no data frame has arrived
    for that long (a stalled feed that still beats); off by default, as quiet products are normal.
    """
    _validate(settings)
    run_id = run_id or new_run_id()
    recovery = recover_dead_runs(settings, run_id, kafka_enabled)
    metrics.serve(settings.metrics.ingest_port, settings.metrics.host, "ingest")
    ingestor = Ingestor(
        settings,
        stop_event=stop_event,
        kafka_enabled=kafka_enabled,
        run_id=run_id,
        recovery=recovery,
        spool_high_water=spool_high_water,
        spool_low_water=spool_low_water,
        kafka_close_timeout_s=kafka_close_timeout_s,
        data_watchdog_s=data_watchdog_s,
    )
    if install_signal_handlers is None:
        install_signal_handlers = threading.current_thread() is threading.main_thread()
    return asyncio.run(ingestor.run(install_signal_handlers))


def _validate(settings: Settings) -> None:
    cfg = settings.ingest
    if not cfg.url.startswith(("ws://", "wss://")):
        raise ConfigError(f"ingest URL {cfg.url!r} is not a WebSocket URL", "use ws://host:port or wss://host")
    if not cfg.pairs:
        raise ConfigError("no product to ingest", "pass --pair BTC-USD (repeatable) or set ingest.pairs")
    if not cfg.channels:
        raise ConfigError("no channel to subscribe", "pass --channels ticker,heartbeats or set ingest.channels")
    if cfg.watchdog_s <= 0:
        raise ConfigError("ingest.watchdog_s must be positive", "for example --watchdog 10")
    if cfg.l2_resnapshot_interval_s <= 0 or cfg.l2_resnapshot_timeout_s <= 0:
        raise ConfigError("ingest.l2_resnapshot_interval_s and ingest.l2_resnapshot_timeout_s must be positive",
                          "for example GLUE_INGEST__L2_RESNAPSHOT_INTERVAL_S=5")


class Ingestor:
    """The state of one ingest run; see the module docstring."""

    def __init__(self, settings: Settings, *, stop_event: threading.Event | None, kafka_enabled: bool,
                 run_id: str, spool_high_water: int, spool_low_water: int,
                 kafka_close_timeout_s: float = 30.0, data_watchdog_s: float = 0.0,
                 recovery: Recovery | None = None) -> None:
        self.kafka_close_timeout_s = kafka_close_timeout_s
        self.data_watchdog_s = data_watchdog_s
        self._last_data_mono = time.monotonic()
        self.settings = settings
        self.cfg = settings.ingest
        self.stop_event = stop_event or threading.Event()
        self.run_id = run_id
        self.summary = IngestSummary(run_id=run_id, url=self.cfg.url, kafka_enabled=kafka_enabled)
        self.products = tuple(dict.fromkeys(self.cfg.pairs))
        self.tracker = StreamTracker(self.products)
        if recovery is not None and recovery.dead_runs:
            self.summary.recovered_runs = list(recovery.dead_runs)
            self.summary.recovered_resent = recovery.resent
            if recovery.last_good_ts is not None:
                self.tracker.restart_after(recovery.last_good_ts, {"previous_runs": recovery.dead_runs,
                                                                   "last_recv_ns": recovery.last_recv_ns})
        self._state_path = write_state(settings, run_id, kafka_enabled)
        self.resnapshot: Resnapshot | None = None
        if "level2" in self.cfg.channels:
            self.resnapshot = Resnapshot(self.products, self.cfg.l2_resnapshot_interval_s,
                                         self.cfg.l2_resnapshot_timeout_s)
        self._resnapshot_task: asyncio.Future | None = None  # held: the loop keeps only weak references
        self.archive = ArchiveWriter(self.cfg.archive_dir, run_id, self.cfg.archive_rotate_mb * 1024 * 1024)
        self.sink: IdempotentKafkaSink | None = None
        if kafka_enabled:
            # one spool per topic: messages left by an earlier run go back to the topic they were for
            spool = Spool(Path(self.cfg.spool_dir) / settings.kafka.topic_raw, run_id)
            self.sink = IdempotentKafkaSink(settings.kafka, spool, high_water=spool_high_water,
                                            low_water=spool_low_water)
            self.sink.health.status_interval_s = self.cfg.kafka_status_interval_s
        self.pipeline = Pipeline(self.archive, self.sink)
        self.iseq = 0
        self.backoff = Backoff(self.cfg.backoff_initial_s, self.cfg.backoff_max_s, self.cfg.backoff_jitter_s)
        self._stopping = False
        self._stop_reason = ""
        self._ws: Any = None
        self._last_frame_mono = time.monotonic()
        self._conn_no = 0
        self._topics_ready = not kafka_enabled
        self._current_conn = ""
        self._close_cause = "server"
        self._frames_on_conn = 0
        self._closing: asyncio.Future | None = None
        self._jwt_factory = _jwt_factory(self.cfg)
        self._connection_class = _byte_counting_connection()

    # -- records ---------------------------------------------------------------------------------

    def _next_iseq(self) -> int:
        self.iseq += 1
        return self.iseq

    def emit_marker(self, conn: str, marker: dict[str, Any], recv_ns: int | None = None) -> None:
        record = Record(KIND_MARKER, recv_ns or time.time_ns(), conn, self._next_iseq(), marker=marker)
        self.summary.markers += 1
        metrics.ingest_marker(marker)
        self.pipeline.add(record, fanout_keys(record), None, time.perf_counter_ns())

    def on_frame(self, conn: str, text: str | bytes) -> None:
        recv_ns = time.time_ns()
        t0 = time.perf_counter_ns()
        if isinstance(text, bytes):  # the protocol has text frames only; keep a binary one readable
            text = text.decode("utf-8", errors="replace")
            binary = True
        else:
            binary = False
        info = inspect_frame(text)
        if binary:
            info.cls, info.reason = "bad", "binary_frame"
        elif info.cls == DATA:
            self._last_data_mono = time.monotonic()
            self.summary.data_frames += 1
        elif info.cls == ERROR:
            self._on_error_frame(conn, info.reason or "")
        for marker in self.tracker.observe(info):
            if marker["type"] == MARKER_DATA_GAP and marker["reason"] == "seq_gap" and self.resnapshot is not None:
                self._on_seq_gap(conn, marker)
            self.emit_marker(conn, marker, recv_ns)
        if info.l2_snapshots and self.resnapshot is not None:
            for product in info.l2_snapshots:
                if self.resnapshot.on_snapshot(product):
                    log.info("ingest: level2 snapshots arrived on %s before the pending resnapshot was sent: "
                             "not needed any more", conn)
        record = Record(KIND_FRAME, recv_ns, conn, self._next_iseq(), frame=text)
        self.summary.frames += 1
        metrics.INGEST_FRAMES.inc()
        self.summary.bytes_received += len(text)
        self.pipeline.add(record, info.keys if info.keys else [CONTROL_KEY], info.seq, t0)

    def _on_error_frame(self, conn: str, message: str) -> None:
        """An error frame is the exchange refusing something (a subscribe, usually): say so when it arrives."""
        if not self.summary.first_error_frame:
            self.summary.first_error_frame = message
        if self.tracker.stats.error_frames < 10 or self.tracker.stats.error_frames % 1000 == 0:
            log.warning("ingest: error frame from the exchange on %s: %r (subscribed products %s, channels %s); "
                        "check --pair and --channels", conn, message, ",".join(self.products),
                        ",".join(self.cfg.channels))

    # -- main loop -------------------------------------------------------------------------------

    async def run(self, install_signal_handlers: bool) -> IngestSummary:
        loop = asyncio.get_running_loop()
        if install_signal_handlers:
            for sig in (signal.SIGINT, signal.SIGTERM):
                loop.add_signal_handler(sig, self.request_stop, f"signal {signal.Signals(sig).name}")
        started = time.monotonic()
        log.info("ingest %s: %s, products %s, channels %s, archive %s, kafka %s", self.run_id, self.cfg.url,
                 ",".join(self.products), ",".join(self.cfg.channels), self.cfg.archive_dir,
                 self.settings.kafka.bootstrap_servers if self.sink else "off")
        ticker = asyncio.create_task(self._ticker(started), name="ingest-ticker")
        topics = asyncio.create_task(self._ensure_topics(), name="ingest-topics") if self.sink else None
        try:
            await self._connection_loop()
        finally:
            ticker.cancel()
            if topics is not None:
                topics.cancel()
            await asyncio.gather(ticker, *( [topics] if topics else []), return_exceptions=True)
            self._finish(started)
        return self.summary

    def request_stop(self, reason: str = "stop requested") -> None:
        if not self._stopping:
            log.info("ingest: stopping (%s)", reason)
            self._stop_reason = reason
        self._stopping = True
        self.stop_event.set()
        ws = self._ws
        if ws is not None:
            self._closing = asyncio.ensure_future(_close_quietly(ws, 1000, "client stopping"))

    async def _ensure_topics(self) -> None:
        """Create ticks.raw if needed, retrying while the broker is away (produce queues meanwhile)."""
        from glue.kafka import ensure_topics

        loop = asyncio.get_running_loop()
        failures = 0
        while not self._stopping:
            try:
                await loop.run_in_executor(None, lambda: ensure_topics(self.settings.kafka,
                                                                       [self.settings.kafka.topic_raw],
                                                                       timeout_s=5.0))
                self._topics_ready = True
                return
            except Exception as exc:
                failures += 1
                # once, then every 30 s: the broker-health lines say the rest
                log.log(logging.WARNING if failures % 15 == 1 else logging.DEBUG,
                        "kafka: topic %s not ready yet (%s); frames are kept and sent later",
                        self.settings.kafka.topic_raw, exc)
                await asyncio.sleep(2.0)

    async def _ticker(self, started: float) -> None:
        deadline = started + self.cfg.minutes * 60 if self.cfg.minutes > 0 else None
        next_progress = started + self.cfg.progress_interval_s
        next_sync = started + 1.0
        last_frames, last_t = 0, started
        while True:
            await asyncio.sleep(TICK_S)
            self.pipeline.flush()
            if self.sink is not None:
                self.sink.flush()
                if self.sink.auth_error and not self._stopping:
                    self.summary.kafka_auth_error = self.sink.auth_error
                    self.request_stop(f"Kafka authentication failed ({self.sink.auth_error})")
            now = time.monotonic()
            if now >= next_sync:
                # fsync about once a second: bounded loss on a machine crash, cheap at any rate
                self.archive.sync()
                if self.sink is not None:
                    self.sink.spool.flush()  # to the OS: a kill -9 loses nothing spooled
                next_sync = now + 1.0
            if self.stop_event.is_set() and not self._stopping:
                self.request_stop("stop event")
            if deadline is not None and now >= deadline and not self._stopping:
                self.request_stop(f"--minutes {self.cfg.minutes:g} elapsed")
            silent_s = now - self._last_heard_mono()
            if self._ws is not None and silent_s > self.cfg.watchdog_s and not self._stopping:
                log.warning("ingest: nothing received (no byte) for %.1f s on %s: reconnecting (watchdog)",
                            self.cfg.watchdog_s, self._current_conn)
                self.summary.watchdog_fired += 1
                self._close_cause = "watchdog"
                ws, self._ws = self._ws, None
                _abort(ws)  # the peer may be gone: do not wait for a close handshake
            elif (self.data_watchdog_s > 0 and self._ws is not None and not self._stopping
                  and now - self._last_data_mono > self.data_watchdog_s):
                log.warning("ingest: heartbeats but no data for %.1f s on %s: reconnecting (data watchdog)",
                            self.data_watchdog_s, self._current_conn)
                self.summary.watchdog_fired += 1
                self._close_cause = "watchdog"
                ws, self._ws = self._ws, None
                # the peer is alive (it beats): close cleanly, reading what is in flight
                self._closing = asyncio.ensure_future(_close_quietly(ws, 1000, "no data (data watchdog)"))
            if self.resnapshot is not None and self._ws is not None and not self._stopping:
                self._resnapshot_tick(time.monotonic())  # fresh: an fsync above may have taken a while
            if now >= next_progress:
                rate = (self.summary.frames - last_frames) / max(1e-9, now - last_t)
                last_frames, last_t = self.summary.frames, now
                self._log_progress(rate)
                next_progress = now + self.cfg.progress_interval_s

    def _last_heard_mono(self) -> float:
        """When the current connection last received anything: a frame, or any bytes of one (or a pong)."""
        return max(self._last_frame_mono, getattr(self._ws, "last_bytes_mono", 0.0))

    def _log_progress(self, rate: float) -> None:
        s, t = self.summary, self.tracker.stats
        kafka = "off"
        if self.sink is not None:
            kafka = (f"in flight {self.sink.in_flight}, acked {self.sink.acked}, spooled {self.sink.spool.pending}"
                     f"{' (SPOOLING)' if self.sink.spooling else ''}")
        log.info("ingest: %.0f msg/s, %d frames, reconnects %d, seq gaps %d, l2 resnapshots %d, dup %d, bad %d, "
                 "kafka %s", rate, s.frames, s.reconnects, t.seq_gaps, s.l2_resnapshots, t.duplicates,
                 t.bad_frames + t.unknown_channel + t.error_frames, kafka)

    # -- level2 resnapshots ------------------------------------------------------------------------

    def _on_seq_gap(self, conn: str, marker: dict[str, Any]) -> None:
        assert self.resnapshot is not None
        missing = int(marker["detail"].get("missing", 0))
        if not self.resnapshot.on_gap(missing):
            log.info("ingest: %d message(s) missing on %s: covered by the level2 snapshots already requested",
                     missing, conn)

    def _resnapshot_tick(self, now: float) -> None:
        """Send a due resnapshot request, or reconnect when a requested snapshot never came."""
        assert self.resnapshot is not None
        late = self.resnapshot.timed_out(now)
        if late:
            log.warning("ingest: no level2 snapshot for %s %.0f s after the resubscribe on %s: reconnecting",
                        ",".join(late), self.cfg.l2_resnapshot_timeout_s, self._current_conn)
            self.summary.l2_resnapshot_timeouts += 1
            self._close_cause = "resnapshot_timeout"
            ws, self._ws = self._ws, None
            # the peer is alive: close cleanly, reading what is in flight
            self._closing = asyncio.ensure_future(_close_quietly(ws, 1000, "no level2 snapshot after resubscribe"))
            return
        request = self.resnapshot.due(now)
        if request is None:
            return
        conn = self._current_conn
        # Written before sending, so that it precedes the answer (the new snapshots) in the archive.
        self.emit_marker(conn, {"type": MARKER_SUBSCRIBED, "products": [],
                                "detail": {"channels": ["level2"], "products": list(self.products),
                                           "reason": "resnapshot", "gaps": request.gaps,
                                           "missing": request.missing}})
        self._resnapshot_task = asyncio.ensure_future(self._send_resnapshot(self._ws, conn, request))

    async def _send_resnapshot(self, ws: Any, conn: str, request: ResnapshotRequest) -> None:
        import json

        messages = resnapshot_messages(self.products, self._jwt_factory)
        try:
            for msg in messages:
                await ws.send(json.dumps(msg))
        except Exception as exc:  # the connection is ending; the reconnect subscribes everything again
            log.warning("ingest: level2 resnapshot request on %s not sent (%s: %s)", conn, type(exc).__name__, exc)
            return
        self.summary.l2_resnapshots += 1
        log.info("ingest: level2 resnapshot requested on %s (unsubscribe + subscribe %s) after %d gap(s), "
                 "%d message(s) missing", conn, ",".join(self.products), request.gaps, request.missing)

    async def _connection_loop(self) -> None:
        import websockets
        from websockets.asyncio.client import connect

        while not self._stopping:
            self._conn_no += 1
            conn = f"{self.run_id}-{self._conn_no:04d}"
            self._current_conn = conn
            self._close_cause = "server"
            self._frames_on_conn = 0
            opened = False
            try:
                async with connect(
                    self.cfg.url,
                    max_size=self.cfg.max_frame_bytes,
                    open_timeout=self.cfg.connect_timeout_s,
                    compression=None,
                    proxy=None,
                    max_queue=256,
                    # No ping timeout: on a slow link the pong queues behind a multi-MB snapshot; the
                    # byte watchdog is what decides that a connection is dead.
                    ping_interval=20,
                    ping_timeout=None,
                    # On stop, frames already in flight are read and archived until the server's close
                    # frame arrives (at speed 0 the kernel buffers hold thousands): allow time for that.
                    close_timeout=CLOSE_DRAIN_S,
                    additional_headers={"x-cb-retry-counter": str(self.backoff.attempts)},
                    create_connection=self._connection_class,
                ) as ws:
                    opened = True
                    self._on_open(ws, conn)
                    await self._subscribe(ws, conn)
                    await self._read(ws, conn)
            except websockets.ConnectionClosed as exc:
                if opened:
                    self._record_close(conn, exc.rcvd.code if exc.rcvd else 1006,
                                       exc.rcvd.reason if exc.rcvd else "no close frame")
                else:
                    self._connect_failed(exc)
            except Exception as exc:
                if opened:
                    if not isinstance(exc, OSError | TimeoutError | websockets.InvalidHandshake):
                        log.exception("ingest: unexpected error on %s", conn)
                    self._record_close(conn, 1006, f"{type(exc).__name__}: {exc}")
                else:
                    self._connect_failed(exc)
            finally:
                self._ws = None
            if self._stopping:
                break
            if self._frames_on_conn > 0:
                self.backoff.reset()
            delay = self.backoff.next_delay_s()
            log.info("ingest: reconnecting in %.2f s", delay)
            await self._sleep_unless_stopping(delay)

    def _on_open(self, ws: Any, conn: str) -> None:
        self._ws = ws
        self._last_frame_mono = self._last_data_mono = time.monotonic()
        self.summary.connections += 1
        if self.summary.connections > 1:
            self.summary.reconnects += 1
            metrics.INGEST_RECONNECTS.inc()
        self.tracker.new_connection(conn)
        if self.resnapshot is not None:
            self.resnapshot.new_connection()
        self.emit_marker(conn, {"type": MARKER_CONNECT, "products": [],
                                "detail": {"url": self.cfg.url, "attempt": self.backoff.attempts,
                                           "connection": self._conn_no}})
        if self._stopping:  # a stop that arrived during the handshake
            self._closing = asyncio.ensure_future(_close_quietly(ws, 1000, "client stopping"))

    def _connect_failed(self, exc: BaseException) -> None:
        self.summary.connect_failures += 1
        self.summary.last_connect_error = f"{type(exc).__name__}: {exc}"
        log.warning("ingest: connect to %s failed (%s: %s)", self.cfg.url, type(exc).__name__, exc)

    async def _subscribe(self, ws: Any, conn: str) -> None:
        import json

        messages = subscribe_messages(self.cfg.channels, self.products, self._jwt_factory)
        for msg in messages:
            await ws.send(json.dumps(msg))
        self.emit_marker(conn, {"type": MARKER_SUBSCRIBED, "products": [],
                                "detail": {"channels": list(self.cfg.channels), "products": list(self.products)}})

    async def _read(self, ws: Any, conn: str) -> None:
        """Read until the connection ends; ConnectionClosed propagates with the close code."""
        on_frame = self.on_frame
        while True:
            text = await ws.recv()
            self._last_frame_mono = time.monotonic()
            self._frames_on_conn += 1
            on_frame(conn, text)

    def _record_close(self, conn: str, code: int, reason: str) -> None:
        cause = "stop" if self._stopping else self._close_cause
        key = str(code)
        self.summary.close_codes[key] = self.summary.close_codes.get(key, 0) + 1
        level = logging.INFO if self._stopping else logging.WARNING
        log.log(level, "ingest: %s closed (code %s, %s; cause %s; %d frames)", conn, code, reason or "-", cause,
                self._frames_on_conn)
        self.emit_marker(conn, {"type": MARKER_DISCONNECT, "products": [],
                                "detail": {"code": code, "reason": reason, "cause": cause,
                                           "frames": self._frames_on_conn}})
        self.tracker.connection_ended("watchdog" if cause == "watchdog" else "disconnect")
        self._frames_on_conn = 0

    async def _sleep_unless_stopping(self, delay: float) -> None:
        end = time.monotonic() + delay
        while not self._stopping and time.monotonic() < end:
            await asyncio.sleep(min(0.05, end - time.monotonic()))

    def _finish(self, started: float) -> None:
        s, t = self.summary, self.tracker.stats
        self.pipeline.flush()
        if self.sink is not None:
            # refused credentials: waiting cannot get anything acknowledged; spool it at once
            timeout = 1.0 if self.sink.auth_error else self.kafka_close_timeout_s
            s.kafka_unacked_at_exit = self.sink.close(timeout_s=timeout)
            s.kafka_produced = self.sink.produced
            s.kafka_acked = self.sink.acked
            s.kafka_spooled_total = self.sink.spool.appended_total
            s.kafka_spool_pending = self.sink.spool.pending
            s.kafka_failed_deliveries = self.sink.failed_deliveries
            s.kafka_dead = self.sink.dead
            lat = self.sink.latency_percentiles_ms()
            s.latency_p50_ms, s.latency_p99_ms = lat["p50"], lat["p99"]
        self.archive.close()
        s.archive_files = [os.fspath(p) for p in self.archive.files]
        s.archive_bytes = self.archive.bytes_written
        s.elapsed_s = time.monotonic() - started
        s.seq_gaps, s.missing_messages, s.duplicates = t.seq_gaps, t.missing_messages, t.duplicates
        s.out_of_order, s.heartbeat_gaps, s.disconnect_gaps = t.out_of_order, t.heartbeat_gaps, t.disconnect_gaps
        s.bad_frames, s.error_frames, s.unknown_channel = t.bad_frames, t.error_frames, t.unknown_channel
        s.stop_reason = self._stop_reason or "end"
        clear_state(self._state_path)  # a clean stop: the next run has nothing to recover


def _abort(ws: Any) -> None:
    transport = getattr(ws, "transport", None)
    if transport is not None:
        transport.abort()


async def _close_quietly(ws: Any, code: int, reason: str) -> None:
    try:
        await asyncio.wait_for(ws.close(code, reason), timeout=CLOSE_DRAIN_S + 5)
    except Exception:
        _abort(ws)


def _jwt_factory(cfg: Any) -> Any:
    """A CDP JWT maker when key settings are given, else None (public market data needs none)."""
    if not cfg.cdp_api_key_name or not cfg.cdp_api_private_key:
        return None
    from glue.ingest.jwt import CdpJwt

    return CdpJwt(cfg.cdp_api_key_name, cfg.cdp_api_private_key.reveal())
