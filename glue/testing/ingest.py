"""Test support for ingest: the fake exchange in a background thread, ingest runs, archive and topic readers."""

from __future__ import annotations

import asyncio
import contextlib
import dataclasses
import json
import threading
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

from glue.config import ExchangeSettings, Settings
from glue.exchange import ExchangeServer
from glue.exchange.server import ExchangeOptions
from glue.ingest import IngestSummary, run_ingest
from glue.records import Record, read_archive


class ExchangeThread:
    """`with ExchangeThread(faults=[...]) as ex:` -> ex.url, ex.server (its own loop in a thread)."""

    def __init__(self, faults: list[str] | tuple = (), options: ExchangeOptions | None = None,
                 **settings: Any) -> None:
        base: dict[str, Any] = {"host": "127.0.0.1", "port": 0, "source": "sim", "speed": 1.0,
                                "products": ("BTC-USD", "ETH-USD")}
        base.update(settings)
        self.settings = ExchangeSettings(**base)
        self.faults = list(faults)
        self.options = options or ExchangeOptions(start_at_ns=1_775_000_000_000_000_000, book_levels=50)
        self.server: ExchangeServer | None = None
        self._loop: asyncio.AbstractEventLoop | None = None
        self._ready = threading.Event()
        self._stop: asyncio.Event | None = None
        self._thread = threading.Thread(target=self._run, name="fake-exchange", daemon=True)
        self._error: BaseException | None = None

    def _run(self) -> None:
        async def main() -> None:
            self._stop = asyncio.Event()
            try:
                async with ExchangeServer(self.settings, faults=self.faults, options=self.options) as srv:
                    self.server = srv
                    self._ready.set()
                    await self._stop.wait()
            except BaseException as exc:  # surfaced to the test in __enter__/__exit__
                self._error = exc
                self._ready.set()

        self._loop = asyncio.new_event_loop()
        self._loop.run_until_complete(main())
        self._loop.close()

    def __enter__(self) -> ExchangeThread:
        self._thread.start()
        self._ready.wait(30)
        if self._error:
            raise self._error
        assert self.server is not None
        return self

    @property
    def url(self) -> str:
        assert self.server is not None
        return self.server.url

    def sent(self) -> dict[int, list[str]]:
        """Per exchange connection number, the frames written to the socket (copied)."""
        assert self.server is not None
        return {k: list(v) for k, v in self.server.sent.items()}

    def __exit__(self, *exc: object) -> None:
        if self._loop is not None and self._stop is not None:
            self._loop.call_soon_threadsafe(self._stop.set)
        self._thread.join(30)


# Level2 subscribed first, for tests of resnapshots after a `skip_seq:N` gap: the snapshots are then the
# connection's first data messages, so the gap always hits known books. In the default order (ticker first)
# a loaded exchange may send N ticker messages before it reads the level2 subscribe; the first snapshots then
# come after the gap and repair it, and rightly no resnapshot is asked for (a CI run failed on that).
LEVEL2_FIRST = ("level2", "ticker", "market_trades", "heartbeats")


def resubscribed_then(ex: ExchangeThread, frames: int, conn: int = 1, messages: int = 6) -> Callable[[], bool]:
    """A `done()` for run_ingest_until: the exchange received `messages` client messages on connection `conn`
    (the 4 subscribes, then a level2 unsubscribe + subscribe) and has sent `frames` frames there since."""
    asked_at: list[int] = []

    def done() -> bool:
        sent = len(ex.server.sent.get(conn, ())) if ex.server else 0
        if not asked_at and ex.server and len(ex.server.received.get(conn, ())) >= messages:
            asked_at.append(sent)
        return bool(asked_at) and sent >= asked_at[0] + frames

    return done


def count_tickers(frames) -> int:
    """How many of these frame texts are ticker messages (unparseable ones count as none)."""
    n = 0
    for text in frames:
        with contextlib.suppress(ValueError):
            n += json.loads(text).get("channel") == "ticker"
    return n


def ingest_settings(url: str, tmp: Path, *, bootstrap: str = "127.0.0.1:1", topic: str = "ticks.raw",
                    pairs: tuple[str, ...] = ("BTC-USD", "ETH-USD"), **ingest: Any) -> Settings:
    s = Settings()
    ing = dataclasses.replace(
        s.ingest, url=url, pairs=pairs, archive_dir=str(tmp / "raw"), spool_dir=str(tmp / "spool"),
        progress_interval_s=2.0, backoff_initial_s=0.05, backoff_max_s=1.0, backoff_jitter_s=0.05, **ingest,
    )
    kafka = dataclasses.replace(s.kafka, bootstrap_servers=bootstrap, topic_raw=topic, partitions_raw=3)
    return dataclasses.replace(s, ingest=ing, kafka=kafka)


def run_ingest_until(settings: Settings, done: Callable[[], bool], timeout_s: float = 30.0,
                     **kwargs: Any) -> IngestSummary:
    """Run ingest in a thread until done() (checked every 50 ms) or timeout; returns its summary."""
    stop = threading.Event()
    result: dict[str, Any] = {}

    def target() -> None:
        try:
            result["summary"] = run_ingest(settings, stop, install_signal_handlers=False, **kwargs)
        except BaseException as exc:
            result["error"] = exc

    thread = threading.Thread(target=target, name="ingest", daemon=True)
    thread.start()
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline and thread.is_alive() and not done():
        time.sleep(0.05)
    stop.set()
    thread.join(60)
    assert not thread.is_alive(), "ingest did not stop"
    if "error" in result:
        raise result["error"]
    return result["summary"]


def archive_records(summary: IngestSummary) -> list[Record]:
    return list(read_archive(summary.archive_files))


def archived_frames_by_conn(records: list[Record]) -> dict[str, list[str]]:
    out: dict[str, list[str]] = {}
    for r in records:
        if r.kind == "frame":
            out.setdefault(r.conn, []).append(r.frame or "")
    return out


def markers(records: list[Record], mtype: str | None = None) -> list[dict[str, Any]]:
    return [r.marker for r in records
            if r.kind == "marker" and r.marker is not None and (mtype is None or r.marker["type"] == mtype)]


def assert_sent_equals_archived(sent: dict[int, list[str]], records: list[Record],
                                allow_tail_loss: int = 0) -> None:
    """Every frame each exchange connection wrote is archived exactly once, in order, one conn each.

    `allow_tail_loss`: frames at the end of a connection that may be lost in flight (a TCP reset
    discards what the kernel had not delivered yet; those frames never reached the client).
    """
    archived = archived_frames_by_conn(records)
    sent_lists = [frames for _k, frames in sorted(sent.items()) if frames]
    got_lists = [frames for frames in archived.values() if frames]
    assert len(got_lists) == len(sent_lists), (len(got_lists), len(sent_lists))
    for want, got in zip(sent_lists, got_lists, strict=True):
        assert got == want[: len(got)], "archived frames differ from the frames sent"
        assert len(want) - len(got) <= allow_tail_loss, f"{len(want) - len(got)} frames sent but not archived"


def frame_seq(text: str) -> int | None:
    try:
        return json.loads(text).get("sequence_num")
    except ValueError:
        return None


def read_topic(bootstrap: str, topic: str, expected: int, timeout_s: float = 60.0,
               quiet_s: float = 1.5) -> list[tuple[int, int, str, bytes, dict[str, str]]]:
    """All messages of a topic from the beginning: (partition, offset, key, value, headers).

    Reads until `expected` messages arrived and then `quiet_s` more seconds (to catch extras).
    """
    from confluent_kafka import OFFSET_BEGINNING, Consumer, TopicPartition

    from glue.kafka import headers_to_dict

    consumer = Consumer({"bootstrap.servers": bootstrap, "group.id": f"read-{topic}", "enable.auto.commit": False,
                         "fetch.max.bytes": 67108864, "max.partition.fetch.bytes": 33554432,
                         "receive.message.max.bytes": 70000000, "log_level": 2})
    try:
        meta = consumer.list_topics(topic, timeout=10)
        parts = sorted(meta.topics[topic].partitions)
        consumer.assign([TopicPartition(topic, p, OFFSET_BEGINNING) for p in parts])
        out: list[tuple[int, int, str, bytes, dict[str, str]]] = []
        deadline = time.monotonic() + timeout_s
        quiet_until = None
        while time.monotonic() < deadline:
            msg = consumer.poll(0.2)
            if msg is None:
                if len(out) >= expected:
                    quiet_until = quiet_until or time.monotonic() + quiet_s
                    if time.monotonic() >= quiet_until:
                        break
                continue
            if msg.error():
                continue
            partition, offset, value = msg.partition(), msg.offset(), msg.value()
            assert partition is not None and offset is not None and value is not None, "a consumed record has all"
            out.append((partition, offset, (msg.key() or b"").decode(), value, headers_to_dict(msg.headers())))
        return out
    finally:
        consumer.close()


def assert_kafka_matches_archive(messages: list[tuple[int, int, str, bytes, dict[str, str]]],
                                 records: list[Record]) -> None:
    """Every archived record is in Kafka exactly once per fanout key, unchanged, in order per partition
    (per connection: iseq restarts with each ingest run)."""
    from glue.records import fanout_keys

    want: dict[tuple[str, int, str], bytes] = {}
    for r in records:
        for key in fanout_keys(r):
            want[(r.conn, r.iseq, key)] = r.kafka_value()
    got: dict[tuple[str, int, str], bytes] = {}
    last_iseq: dict[tuple[int, str], int] = {}
    for partition, _offset, key, value, headers in messages:
        ident = (headers["glue.conn"], int(headers["glue.iseq"]), key)
        assert ident not in got, f"duplicate in Kafka: {ident}"
        got[ident] = value
        iseq = int(headers["glue.iseq"])
        slot = (partition, headers["glue.conn"])  # iseq restarts with every ingest run
        assert iseq > last_iseq.get(slot, 0), f"out of order in partition {partition}"
        last_iseq[slot] = iseq
    missing = set(want) - set(got)
    extra = set(got) - set(want)
    assert not missing, f"{len(missing)} archived records missing from Kafka, e.g. {sorted(missing)[:3]}"
    assert not extra, f"{len(extra)} Kafka messages not in the archive, e.g. {sorted(extra)[:3]}"
    for ident, value in want.items():
        assert got[ident] == value, f"value differs for {ident}"
