"""The fake exchange's WebSocket server: connections, pacing, heartbeats, faults, the sent log.

Owns the socket side. Per connection, a reader task queues client messages and one writer loop
sends everything in order: answers to client messages (snapshots, acks, errors), heartbeats on the
1-second grid of the market clock, and the market's events, each paced to the clock (`speed` > 0) or
as fast as the client reads (`speed` 0: every send awaits the socket, so the client sets the pace).
Sequence numbers are assigned here, at write time, one counter per connection from 0. Frames are
written in batches (one transport write for up to 64 frames) whenever the loop would wait or yield.

`ExchangeServer` is the in-process API (tests, ingest benches); `run_exchange` is the CLI's loop.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import signal
import socket
import struct
import time
from collections import deque
from dataclasses import dataclass, field
from http import HTTPStatus
from typing import IO, Any

from glue.config import ExchangeSettings
from glue.errors import ConfigError
from glue.exchange.faults import ConnFaults, Fault, parse_faults
from glue.exchange.market import NS
from glue.exchange.protocol import Out, dumps, envelope, error_out
from glue.exchange.session import ProtocolOptions, Session
from glue.exchange.sources import EventLog, RecordingSource, SimSource
from glue.records import parse_rfc3339_ns

log = logging.getLogger("glue.exchange")

UNKNOWN_CHANNEL = "vwap_preview"  # what `unknown_channel:N` sends: a channel no client knows
MID_STREAM_ERROR = "internal error, please retry"
MALFORMED = '{"channel":"ticker","timestamp":"2026-'
WRITE_BATCH_FRAMES = 64
WRITE_BATCH_BYTES = 1 << 18


@dataclass(frozen=True)
class ExchangeOptions:
    """Options of the fake exchange beyond `ExchangeSettings` (flags of `glue exchange`)."""

    start_at_ns: int | None = None  # sim: anchor the market clock here (reproducible runs)
    sim_minutes: float = 0.0  # sim: the market ends after this much market time (0 = never)
    book_levels: int = 500  # sim: price levels per side of each book
    alias_usdc: bool = True  # serve X-USDC subscriptions as X-USD
    snapshot_epoch_time: bool = False  # l2 snapshot levels with event_time 1970-01-01T00:00:00Z
    ticker_batch_bbo: bool = False  # include best bid/ask in ticker_batch
    resubscribe_snapshot: bool = True  # a product subscribed again on a connection gets a new snapshot
    on_end: str = "close"  # when the source is exhausted: "close" (1000 "replay finished") or "keep_open"
    deadline_close_code: int = 1008  # close code when no subscribe arrives in time
    status_interval_s: float = 10.0
    spikes: tuple[tuple[float, float, float], ...] = ()  # sim: (at s, for s, factor) volatility spikes
    # A hostile feed: every frame naming product REAL goes out naming WIRE instead, (REAL, WIRE) pairs; WIRE may
    # be anything (markup, quotes), JSON-escaped. Lets tests show that consumers treat feed text as text.
    rename_products: tuple[tuple[str, str], ...] = ()
    record_sent: bool = True  # keep `.sent` (per-connection frame lists) and `.received` in memory


class _Closed(Exception):
    """The writer closed the connection on purpose (fault, deadline, end of data)."""


@dataclass
class _Conn:
    k: int
    ws: Any
    session: Session
    faults: ConnFaults
    opened_mono: float
    inbox: deque = field(default_factory=deque)
    wake: asyncio.Event = field(default_factory=asyncio.Event)
    seq: int = 0
    data_sent: int = 0
    frames_sent: int = 0
    clock_ns: int = 0  # speed 0: the connection's market time (last event or answer)
    next_hb_ns: int | None = None
    last_hb_counter: int = -1
    subscribed_mono: float | None = None
    skip_left: int = 0
    reorder_state: int = 0  # 1: hold the next sequenced frame; 2: send the next, then the held one
    held: str | None = None
    ended_mono: float | None = None  # the source is exhausted (keep_open: heartbeats on wall time)
    last_text: str = ""
    pending: list[str] = field(default_factory=list)  # frames queued for the next socket write
    pending_bytes: int = 0


class ExchangeServer:
    """`async with ExchangeServer(settings, faults=[...], sent_log=None) as srv:` -> srv.url, srv.sent, srv.received."""

    def __init__(
        self,
        settings: ExchangeSettings,
        faults: list[str | Fault] | tuple = (),
        sent_log: str | None = None,
        options: ExchangeOptions | None = None,
    ) -> None:
        self.settings = settings
        self.options = options or ExchangeOptions()
        self.faults = parse_faults(list(faults))
        self.sent_log_path = sent_log
        self.sent: dict[int, list[str]] = {}
        self.received: dict[int, list[str | bytes]] = {}  # conn -> client messages, in arrival order
        self.closes: dict[int, str] = {}  # conn -> how the server ended it (fault, deadline, ...)
        self.source: EventLog = self._make_source()
        self.proto = ProtocolOptions(
            emit_client_id=settings.emit_client_id,
            ack_after_snapshots=settings.ack_after_snapshots,
            alias_usdc=self.options.alias_usdc,
            snapshot_epoch_time=self.options.snapshot_epoch_time,
            ticker_batch_bbo=self.options.ticker_batch_bbo,
            resubscribe_snapshot=self.options.resubscribe_snapshot,
        )
        self.port = 0
        self.connections = 0
        self.rejected = 0
        self.frames_sent = 0
        self.open_conns: dict[int, _Conn] = {}
        self._server: Any = None
        self._sent_fh: IO[str] | None = None
        self._anchor: tuple[int, int] | None = None  # (market ns, monotonic ns) of the clock start
        self._accepts: deque[float] = deque()
        self._reject_rate = max((float(f.args[0]) for f in self.faults if f.name == "reject_rate"), default=0.0)
        self._status_task: asyncio.Task | None = None
        self._renames = [(dumps(real), dumps(wire)) for real, wire in self.options.rename_products]

    # ---- lifecycle --------------------------------------------------------------------------------
    def _make_source(self) -> EventLog:
        s, o = self.settings, self.options
        if s.source == "sim":
            start = o.start_at_ns if o.start_at_ns is not None else time.time_ns()
            return SimSource(s.products, s.seed, start, o.book_levels, o.sim_minutes * 60, o.spikes)
        if s.source == "recording":
            return RecordingSource(s.recording)
        raise ConfigError(f"unknown exchange source '{s.source}'", "use --source sim or --source recording")

    @property
    def url(self) -> str:
        return f"ws://{self.settings.host}:{self.port}"

    async def __aenter__(self) -> ExchangeServer:
        await self.start()
        return self

    async def __aexit__(self, *exc: object) -> None:
        await self.stop()

    async def start(self) -> None:
        from websockets.asyncio.server import serve

        if self.sent_log_path:
            self._sent_fh = open(self.sent_log_path, "a", encoding="utf-8")  # noqa: SIM115 (closed in stop)
        try:
            self._server = await serve(
                self._handler,
                self.settings.host,
                self.settings.port,
                process_request=self._process_request,
                compression=None,
                ping_interval=None,
                max_size=2**20,
                write_limit=2**18,
            )
        except OSError as exc:
            raise ConfigError(
                f"cannot listen on {self.settings.host}:{self.settings.port} ({exc.strerror})",
                "pick another --port (0 = any free port)",
            ) from exc
        self.port = self._server.sockets[0].getsockname()[1]
        if self.options.status_interval_s > 0:
            self._status_task = asyncio.create_task(self._status_loop(), name="exchange-status")
        log.info("exchange: %s source listening on %s", self.source.kind, self.url)

    async def stop(self) -> None:
        if self._status_task:
            self._status_task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._status_task
        if self._server is not None:
            self._server.close()
            await self._server.wait_closed()
            self._server = None
        if self._sent_fh:
            self._sent_fh.close()
            self._sent_fh = None

    async def _status_loop(self) -> None:
        last, last_t = self.frames_sent, time.monotonic()
        while True:
            await asyncio.sleep(self.options.status_interval_s)
            now = time.monotonic()
            rate = (self.frames_sent - last) / max(1e-9, now - last_t)
            last, last_t = self.frames_sent, now
            log.info(
                "exchange: open=%d connections=%d rejected=%d frames=%d (%.0f msg/s)",
                len(self.open_conns), self.connections, self.rejected, self.frames_sent, rate,
            )

    def summary(self) -> dict[str, Any]:
        return {
            "source": self.source.kind,
            "connections": self.connections,
            "rejected": self.rejected,
            "frames_sent": self.frames_sent,
            "closes": dict(self.closes),
        }

    # ---- the market clock -------------------------------------------------------------------------
    def _clock_ns(self) -> int:
        """Market time now (speed > 0). The clock starts at the first subscribe."""
        if self._anchor is None:
            self._start_clock()
        assert self._anchor is not None
        ns0, mono0 = self._anchor
        return ns0 + int((time.monotonic_ns() - mono0) * self.settings.speed)

    def _start_clock(self) -> None:
        start = self.source.start_ns
        if isinstance(self.source, SimSource) and self.options.start_at_ns is None:
            start = max(start, time.time_ns())  # an unanchored simulation runs on the wall clock
        self._anchor = (start, time.monotonic_ns())

    def _now(self, c: _Conn) -> int:
        if c.ended_mono is not None:
            return c.clock_ns + int((time.monotonic() - c.ended_mono) * NS)
        if self.settings.speed > 0:
            return max(self._clock_ns(), c.clock_ns)
        if self._anchor is None:
            self._anchor = (self.source.start_ns, time.monotonic_ns())
        return max(c.clock_ns, getattr(self.source, "last_ns", self.source.start_ns))

    # ---- connections ------------------------------------------------------------------------------
    def _process_request(self, connection: Any, request: Any) -> Any:
        retry = request.headers.get("x-cb-retry-counter")
        if retry:
            log.debug("exchange: upgrade with x-cb-retry-counter=%s", retry)
        if self._reject_rate > 0:
            now = time.monotonic()
            while self._accepts and now - self._accepts[0] > 1.0:
                self._accepts.popleft()
            if len(self._accepts) >= self._reject_rate:
                self.rejected += 1
                return connection.respond(HTTPStatus.TOO_MANY_REQUESTS, "Too Many Requests\n")
            self._accepts.append(now)
        return None

    async def _handler(self, ws: Any) -> None:
        self.connections += 1
        k = self.connections
        faults = ConnFaults.for_conn(self.faults, k)
        proto = self.proto
        if faults.oversize_bytes:
            from dataclasses import replace

            proto = replace(proto, oversize_snapshot_bytes=faults.oversize_bytes)
        c = _Conn(k, ws, Session(self.source, proto), faults, time.monotonic())
        self.open_conns[k] = c
        if self.options.record_sent:
            self.sent[k] = []
            self.received[k] = []
        log.info("exchange: connection %d from %s", k, ws.remote_address)
        writer = asyncio.create_task(self._writer(c), name=f"exchange-writer-{k}")
        from websockets.exceptions import ConnectionClosed

        try:
            async for msg in ws:
                c.inbox.append(msg)
                if self.options.record_sent:
                    self.received[k].append(msg)
                c.wake.set()
        except ConnectionClosed:
            pass
        finally:
            if not writer.done():
                writer.cancel()
            with contextlib.suppress(asyncio.CancelledError, Exception):
                await writer
            self.source.note_cursor(id(c.session), None)
            self.open_conns.pop(k, None)
            log.info("exchange: connection %d ended after %d frames (%s)", k, c.frames_sent,
                     self.closes.get(k, "client closed"))

    async def _wait(self, c: _Conn, timeout_s: float | None) -> None:
        await self._flush(c)
        if c.inbox:
            return
        c.wake.clear()
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(c.wake.wait(), timeout_s)

    async def _writer(self, c: _Conn) -> None:
        from websockets.exceptions import ConnectionClosed

        try:
            await self._write_loop(c)
        except (_Closed, ConnectionClosed, asyncio.CancelledError):
            pass
        except Exception:  # a bug must not leave the client hanging: say so and close 1011
            log.exception("exchange: connection %d writer failed", c.k)
            self.closes[c.k] = "server error 1011"
            with contextlib.suppress(Exception):
                await c.ws.close(1011, "internal error")

    async def _write_loop(self, c: _Conn) -> None:
        s = c.session
        src = self.source
        deadline = c.opened_mono + self.settings.subscribe_deadline_s
        speed = self.settings.speed
        idle_s = c.faults.idle_close_s
        n = 0
        while True:
            while c.inbox:
                text = c.inbox.popleft()
                now = self._now(c)
                outs, ok = s.on_client_text(text, now)
                if ok:
                    c.subscribed_mono = time.monotonic()
                    c.clock_ns = max(c.clock_ns, now)
                    if c.next_hb_ns is None:
                        c.next_hb_ns = self._next_grid(now)
                for out in outs:
                    await self._emit(c, out)
            if c.subscribed_mono is None:
                left = deadline - time.monotonic()
                if left <= 0:
                    await self._close(c, self.options.deadline_close_code, "subscribe deadline exceeded")
                await self._wait(c, left)
                continue
            if idle_s is not None and not s.heartbeats and time.monotonic() - c.subscribed_mono >= idle_s:
                await self._close(c, 1000, "idle timeout: no heartbeats subscription")
            if not s.subscribed_any:
                await self._wait(c, None if idle_s is None else 0.5)
                continue
            ev_ns = None if c.ended_mono is not None else src.peek_ns(s.cursor)
            if ev_ns is None and c.ended_mono is None:
                if self.options.on_end == "close":
                    await self._close(c, 1000, "replay finished")
                c.ended_mono = time.monotonic()
            hb_ns = c.next_hb_ns if s.heartbeats and not c.faults.no_heartbeats else None
            due = min((t for t in (ev_ns, hb_ns) if t is not None), default=None)
            if due is None:
                await self._wait(c, None if idle_s is None else 0.5)
                continue
            if speed > 0 or c.ended_mono is not None:
                delay_s = (due - self._now(c)) / NS
                if delay_s > 0:
                    await self._wait(c, min(delay_s, 0.5) if idle_s is not None else delay_s)
                    continue
            if hb_ns is not None and (ev_ns is None or hb_ns <= ev_ns):
                await self._heartbeat(c, hb_ns)
                continue
            ev = src.get(s.cursor)
            s.cursor += 1
            c.clock_ns = max(c.clock_ns, ev.ns)
            for out in s.render(ev):
                await self._emit(c, out)
            n += 1
            if n % 32 == 0:
                # A send that does not block does not yield: give the reader and other connections a turn.
                await self._flush(c)
                await asyncio.sleep(0)
                if n % 1024 == 0:
                    src.note_cursor(id(s), s.cursor)

    def _next_grid(self, ns: int) -> int:
        """The next heartbeat time: whole seconds of the market clock since the source start."""
        start = self.source.start_ns
        return start + ((ns - start) // NS + 1) * NS

    async def _heartbeat(self, c: _Conn, ns: int) -> None:
        out = c.session.heartbeat(ns)
        counter = (ns - self.source.start_ns) // NS
        c.next_hb_ns = ns + NS
        if counter <= c.last_hb_counter:
            return
        c.last_hb_counter = counter
        c.clock_ns = max(c.clock_ns, ns)
        await self._emit(c, out)

    async def _close(self, c: _Conn, code: int, reason: str) -> None:
        await self._flush(c)
        self.closes[c.k] = f"{code} {reason}"
        await c.ws.close(code, reason)
        raise _Closed

    # ---- writing, with faults ---------------------------------------------------------------------
    async def _emit(self, c: _Conn, out: Out) -> None:
        if out.sequenced:
            if c.skip_left > 0:
                c.skip_left -= 1
                c.seq += 1
                return
            text = out.text(c.seq)
            c.seq += 1
            if c.reorder_state == 1:
                c.held, c.reorder_state = text, 2
                return
            await self._write(c, text)
            if c.reorder_state == 2 and c.held is not None:
                await self._write(c, c.held)
                c.held, c.reorder_state = None, 0
        else:
            text = out.head
            await self._write(c, text)
        c.last_text = text
        if out.counted:
            c.data_sent += 1
        if c.faults.triggered:
            for fault in c.faults.due(c.data_sent):
                await self._fire(c, fault)

    async def _write(self, c: _Conn, text: str) -> None:
        """Queue a frame; frames go to the socket in batches (one system call for many frames)."""
        for real, wire in self._renames:
            text = text.replace(real, wire)
        c.pending.append(text)
        c.pending_bytes += len(text)
        if c.faults.slow_send_s:
            await asyncio.sleep(c.faults.slow_send_s)
            await self._flush(c)
        elif len(c.pending) >= WRITE_BATCH_FRAMES or c.pending_bytes >= WRITE_BATCH_BYTES:
            await self._flush(c)

    async def _flush(self, c: _Conn) -> None:
        """Write the queued frames in one transport write (websockets' send writes one per frame)."""
        if not c.pending:
            return
        texts, c.pending, c.pending_bytes = c.pending, [], 0
        ws = c.ws
        async with ws.send_context():  # checks the state, then drains (backpressure) on exit
            for text in texts:
                ws.protocol.send_text(text.encode())
            ws.transport.write(b"".join(ws.protocol.data_to_send()))
        c.frames_sent += len(texts)
        self.frames_sent += len(texts)
        if self.options.record_sent:
            self.sent[c.k].extend(texts)
        if self._sent_fh is not None:
            self._sent_fh.write("".join(dumps({"conn": c.k, "frame": t}) + "\n" for t in texts))
            self._sent_fh.flush()

    async def _fire(self, c: _Conn, f: Fault) -> None:
        log.info("exchange: connection %d fault %s after %d data messages", c.k, f.spec, c.data_sent)
        name, args = f.name, f.args
        if name == "drop":
            if args[1] == "reset":
                await self._flush(c)
                # Everything in the sent log must reach the client: the RST discards what is still
                # in our buffers, so wait (up to 10 s) until the kernel has handed it all over.
                await _drained(c.ws, timeout_s=10.0)
                self.closes[c.k] = "reset"
                _reset(c.ws)
                raise _Closed
            await self._close(c, int(args[1]), "fault injected")
        elif name == "stall":
            await self._stall(c, float(args[1]), args[2] == "heartbeats")
        elif name == "skip_seq":
            c.skip_left += int(args[1])
        elif name == "duplicate":
            await self._write(c, c.last_text)
        elif name == "reorder":
            c.reorder_state = 1
        elif name == "malformed":
            await self._write(c, MALFORMED)
        elif name == "unknown_channel":
            event = {"type": "update", "products": [], "note": "a channel this client does not know"}
            await self._emit(c, envelope(UNKNOWN_CHANNEL, self._now(c), [event], self.proto.emit_client_id))
        elif name == "error_frame":
            await self._emit(c, error_out(MID_STREAM_ERROR))

    async def _stall(self, c: _Conn, seconds: float, heartbeats: bool) -> None:
        await self._flush(c)
        end = time.monotonic() + seconds
        if not heartbeats or not c.session.heartbeats or c.faults.no_heartbeats:
            await asyncio.sleep(seconds)
            return
        # Heartbeats only, one per wall second, continuing the connection's heartbeat grid.
        while (left := end - time.monotonic()) > 0:
            await asyncio.sleep(min(1.0, left))
            if left >= 1.0 and c.next_hb_ns is not None:
                await self._heartbeat(c, c.next_hb_ns)
                await self._flush(c)


async def _drained(ws: Any, timeout_s: float) -> None:
    """Wait until the transport buffer and the kernel send queue (SIOCOUTQ) of a connection are empty."""
    import fcntl
    import termios

    sock = ws.transport.get_extra_info("socket")
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        unsent = ws.transport.get_write_buffer_size()
        if sock is not None and unsent == 0:
            try:
                unsent = struct.unpack("i", fcntl.ioctl(sock.fileno(), termios.TIOCOUTQ, b"\0\0\0\0"))[0]
            except OSError:
                unsent = 0
        if unsent == 0:
            return
        await asyncio.sleep(0.005)


def _reset(ws: Any) -> None:
    """Abort the TCP connection with an RST (the client sees 1006, no close frame)."""
    transport = ws.transport
    sock = transport.get_extra_info("socket")
    if sock is not None:
        with contextlib.suppress(OSError):
            sock.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
    transport.abort()


def parse_spike(spec: str) -> tuple[float, float, float]:
    """`AT:SECONDS:FACTOR` (simulator volatility spike) as numbers, or a `ConfigError` saying the form."""
    try:
        at, seconds, factor = (float(x) for x in spec.split(":"))
    except ValueError:
        raise ConfigError(f"bad --spike {spec!r}", "use AT:SECONDS:FACTOR, for example 60:30:20") from None
    if at < 0 or seconds <= 0 or factor <= 0:
        raise ConfigError(f"bad --spike {spec!r}", "AT >= 0, SECONDS > 0 and FACTOR > 0") from None
    return at, seconds, factor


def parse_rename(spec: str) -> tuple[str, str]:
    """`REAL=WIRE` (a product renamed on the wire) as a pair, or a `ConfigError` saying the form."""
    real, sep, wire = spec.partition("=")
    if not sep or not real or not wire:
        raise ConfigError(f"bad --rename-product {spec!r}", "use REAL=WIRE, for example SOL-USD='<b>x</b>-USD'")
    return real, wire


def parse_start_at(text: str | None) -> int | None:
    """`--start-at 2026-01-01T00:00:00Z` -> epoch ns (None passes through)."""
    if not text:
        return None
    try:
        return parse_rfc3339_ns(text)
    except ValueError as exc:
        raise ConfigError(f"--start-at {text!r} is not an RFC 3339 time", "e.g. 2026-01-01T00:00:00Z") from exc


def run_exchange(
    settings: ExchangeSettings,
    options: ExchangeOptions,
    faults: list[str],
    sent_log: str | None = None,
    minutes: float = 0.0,
) -> dict[str, Any]:
    """Serve until SIGINT/SIGTERM (or `minutes` of wall time); returns the summary."""

    async def main() -> dict[str, Any]:
        stop = asyncio.Event()
        loop = asyncio.get_running_loop()
        for sig in (signal.SIGINT, signal.SIGTERM):
            loop.add_signal_handler(sig, stop.set)
        async with ExchangeServer(settings, faults, sent_log, options) as srv:
            print(f"exchange listening on {srv.url}", flush=True)
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(stop.wait(), minutes * 60 if minutes > 0 else None)
            log.info("exchange: stopping")
        summary = srv.summary()
        log.info("exchange: done %s", summary)
        return summary

    return asyncio.run(main())
