"""After a crash (kill -9, power loss): what the dead run archived but Kafka never acknowledged, and the gap.

Every ingest run leaves a state file `<archive_dir>/.runs/<run-id>.json` (pid, start time, topic) for as
long as it runs; a clean stop deletes it. A state file whose process is gone means that run died. On
start, `recover_dead_runs` handles each such run, oldest first:

1. **The gap.** The dead run's archive tail gives the exchange time of its last archived frame (and a
   partial last line, cut by the kill, is truncated: it was never produced, since the archive is written
   before Kafka gets a record). The new run's tracker gets that time, so its first frame writes a
   `data_gap` marker (reason `restart`) over the whole time no process was connected.
2. **The Kafka tail.** Records the dead run archived but Kafka never acknowledged (in librdkafka's queue
   at the kill) are found by reading the topic from the dead run's start time (`offsets_for_times`) and
   comparing `(glue.conn, glue.iseq, key)` with the archive; the missing ones are produced again, in
   archive order, so the topic ends up equal to the archive with nothing duplicated. The dead run's spool
   segments are rewritten without the messages already in Kafka or re-sent here (the spool sends the rest).
   Cost: one read of what the dead run produced. With the broker unreachable the state file is kept and
   the next start tries again (the gap is written anyway, once).
"""

from __future__ import annotations

import json
import logging
import os
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from glue.config import Settings
from glue.records import (
    HEADER_CONN,
    HEADER_ISEQ,
    KIND_FRAME,
    Record,
    fanout_keys,
)

log = logging.getLogger("glue.ingest.recovery")

RUNS_DIR = ".runs"


@dataclass
class Recovery:
    """What start-up recovery found and did (for the new run's tracker and the summary)."""

    dead_runs: list[str] = field(default_factory=list)
    last_good_ts: str | None = None  # exchange time text of the newest archived good frame of a dead run
    last_recv_ns: int | None = None
    resent: int = 0
    already_in_kafka: int = 0
    truncated_bytes: int = 0
    pending: list[str] = field(default_factory=list)  # dead runs whose Kafka tail could not be checked yet


def state_path(archive_dir: str | Path, run_id: str) -> Path:
    return Path(archive_dir) / RUNS_DIR / f"{run_id}.json"


def write_state(settings: Settings, run_id: str, kafka_enabled: bool) -> Path:
    path = state_path(settings.ingest.archive_dir, run_id)
    path.parent.mkdir(parents=True, exist_ok=True)
    state = {"run_id": run_id, "pid": os.getpid(), "started_ns": time.time_ns(),
             "topic": settings.kafka.topic_raw if kafka_enabled else None,
             "spool_dir": str(Path(settings.ingest.spool_dir) / settings.kafka.topic_raw),
             "gap_done": False}
    _write_json(path, state)
    return path


def clear_state(path: Path) -> None:
    path.unlink(missing_ok=True)


def _write_json(path: Path, obj: dict[str, Any]) -> None:
    tmp = path.with_suffix(".tmp")
    tmp.write_text(json.dumps(obj, sort_keys=True))
    os.replace(tmp, path)


def _alive(pid: int) -> bool:
    if pid == os.getpid():
        return True
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    try:  # a recycled pid is not our run
        return b"glue" in Path(f"/proc/{pid}/cmdline").read_bytes()
    except OSError:
        return True


def dead_runs(archive_dir: str | Path, own_run_id: str) -> list[dict[str, Any]]:
    root = Path(archive_dir) / RUNS_DIR
    out = []
    for path in sorted(root.glob("*.json")) if root.is_dir() else []:
        try:
            state = json.loads(path.read_text())
        except (OSError, ValueError):
            log.warning("recovery: unreadable state file %s: ignored", path)
            continue
        if state.get("run_id") == own_run_id or _alive(int(state.get("pid", 0))):
            continue
        state["_path"] = str(path)
        out.append(state)
    return sorted(out, key=lambda s: s.get("started_ns", 0))


def recover_dead_runs(settings: Settings, run_id: str, kafka_enabled: bool, broker_wait_s: float = 15.0) -> Recovery:
    """See the module docstring. Never raises for a broker that is away (it is retried at the next start)."""
    result = Recovery()
    for state in dead_runs(settings.ingest.archive_dir, run_id):
        dead = state["run_id"]
        path = Path(state["_path"])
        files = _archive_files(settings.ingest.archive_dir, dead)
        result.truncated_bytes += _truncate_partial_tail(files)
        records = _read_records(files)
        if not state.get("gap_done"):
            ts, recv_ns = _last_good(records)
            if ts is not None and (result.last_good_ts is None or ts > result.last_good_ts):
                result.last_good_ts, result.last_recv_ns = ts, recv_ns
            state["gap_done"] = True
        result.dead_runs.append(dead)
        log.warning("recovery: run %s ended without a clean stop (%d archived records); the time until this run "
                    "connects is marked as a data gap", dead, len(records))
        topic = state.get("topic")
        if topic and kafka_enabled:
            try:
                resent, present = _resend_tail(settings, topic, dead, int(state["started_ns"]), records,
                                               Path(state["spool_dir"]), broker_wait_s)
            except Exception as exc:  # broker away or refusing: keep the state, try at the next start
                log.warning("recovery: could not check run %s against Kafka (%s); tried again at the next start",
                            dead, exc)
                result.pending.append(dead)
                _write_json(path, {k: v for k, v in state.items() if k != "_path"})
                continue
            result.resent += resent
            result.already_in_kafka += present
            log.warning("recovery: run %s: %d message(s) were in Kafka, %d archived but never acknowledged were "
                        "sent now", dead, present, resent)
        path.unlink(missing_ok=True)
    return result


def _archive_files(archive_dir: str, run_id: str) -> list[Path]:
    files = list(Path(archive_dir).glob(f"*/{run_id}-*.ndjson"))
    return sorted(files, key=lambda p: int(p.stem.rsplit("-", 1)[1]))


def _truncate_partial_tail(files: list[Path]) -> int:
    """A last line without its newline was cut by the kill mid-write: never produced, drop it."""
    if not files:
        return 0
    last = files[-1]
    with open(last, "rb+") as fh:
        data = fh.read()
        if not data or data.endswith(b"\n"):
            return 0
        keep = data.rfind(b"\n") + 1
        fh.truncate(keep)
    log.warning("recovery: %s ended in a partial line (%d bytes, cut by the crash): removed", last, len(data) - keep)
    return len(data) - keep


def _read_records(files: list[Path]) -> list[Record]:
    out = []
    for path in files:
        with open(path, encoding="utf-8") as fh:
            for line in fh:
                if line.strip():
                    out.append(Record.from_archive_line(line))
    return out


def _last_good(records: list[Record]) -> tuple[str | None, int | None]:
    from glue.protocol import CONTROL, DATA, HEARTBEAT, inspect_frame

    for record in reversed(records):
        if record.kind != KIND_FRAME or record.frame is None:
            continue
        info = inspect_frame(record.frame)
        if info.cls in (DATA, HEARTBEAT, CONTROL) and info.timestamp is not None:
            return info.timestamp, record.recv_ns
    return None, None


def _identity_in_kafka(settings: Settings, topic: str, dead: str, started_ns: int,
                       wait_s: float) -> set[tuple[str, int, str]]:
    """(conn, iseq, key) of the dead run's messages in the topic, read from its start time to the end."""
    from confluent_kafka import Consumer, TopicPartition

    from glue.kafka import consumer_config

    consumer = Consumer(consumer_config(settings.kafka, f"glue-recovery-{dead}", **{"log_level": 3}))
    try:
        meta = consumer.list_topics(topic, timeout=wait_s)
        if topic not in meta.topics or meta.topics[topic].error is not None:
            return set()  # never created: nothing of the dead run is in it
        parts = sorted(meta.topics[topic].partitions)
        since_ms = max(0, started_ns // 1_000_000 - 1000)
        starts = consumer.offsets_for_times([TopicPartition(topic, p, since_ms) for p in parts], timeout=wait_s)
        ends = {p: consumer.get_watermark_offsets(TopicPartition(topic, p), timeout=wait_s)[1] for p in parts}
        todo = []
        for tp in starts:
            start = tp.offset if tp.offset >= 0 else ends[tp.partition]
            if start < ends[tp.partition]:
                todo.append(TopicPartition(topic, tp.partition, start))
        found: set[tuple[str, int, str]] = set()
        if not todo:
            return found
        consumer.assign(todo)
        remaining = {tp.partition for tp in todo}
        deadline = time.monotonic() + max(60.0, wait_s)
        while remaining and time.monotonic() < deadline:
            msg = consumer.poll(0.5)
            if msg is None or msg.error():
                continue
            headers = dict(msg.headers() or [])
            conn = headers.get(HEADER_CONN, b"").decode()
            if conn.startswith(dead):
                found.add((conn, int(headers.get(HEADER_ISEQ, b"0")), (msg.key() or b"").decode()))
            if msg.offset() + 1 >= ends[msg.partition()]:
                remaining.discard(msg.partition())
        if remaining:
            raise TimeoutError(f"partitions {sorted(remaining)} of {topic} not read to the end")
        return found
    finally:
        consumer.close()


def _resend_tail(settings: Settings, topic: str, dead: str, started_ns: int, records: list[Record],
                 spool_dir: Path, wait_s: float) -> tuple[int, int]:
    from confluent_kafka import Producer

    from glue.ingest.pipeline import kafka_headers
    from glue.kafka import producer_config
    from glue.protocol import inspect_frame

    present = _identity_in_kafka(settings, topic, dead, started_ns, wait_s)
    missing: list[tuple[Record, str, int | None]] = []
    for record in records:
        seq = inspect_frame(record.frame).seq if record.kind == KIND_FRAME and record.frame is not None else None
        for key in fanout_keys(record):
            if (record.conn, record.iseq, key) not in present:
                missing.append((record, key, seq))
    _filter_spool(spool_dir, dead, present, {(r.conn, r.iseq, k) for r, k, _ in missing})
    if missing:
        failures: list[Any] = []
        producer = Producer(producer_config(settings.kafka, **{"message.timeout.ms": int(max(60.0, wait_s) * 1000)}))
        for record, key, seq in missing:
            while True:
                try:
                    producer.produce(topic, value=record.kafka_value(), key=key.encode("utf-8"),
                                     headers=kafka_headers(record, seq),
                                     on_delivery=lambda err, _msg: failures.append(err) if err else None)
                    break
                except BufferError:
                    producer.poll(0.1)
            producer.poll(0)
        left = producer.flush(max(60.0, wait_s))
        if left or failures:
            raise RuntimeError(f"{left + len(failures)} re-sent message(s) not acknowledged")
    return len(missing), len(present)


def _filter_spool(spool_dir: Path, dead: str, present: set, resent: set) -> None:
    """Drop from the dead run's spool segments what is in Kafka already or re-sent from the archive."""
    from glue.ingest.spool import SpooledMessage

    for seg in sorted(spool_dir.glob(f"{dead}-*.spool")) if spool_dir.is_dir() else []:
        kept, dropped = [], 0
        with open(seg, "rb") as fh:
            for line in fh:
                if not line.endswith(b"\n") or not line.strip():
                    continue  # cut by the kill: the archive has the record
                message = SpooledMessage.from_line(line)
                headers = dict(message.headers)
                ident = (headers.get(HEADER_CONN, b"").decode(), int(headers.get(HEADER_ISEQ, b"0")),
                         message.key.decode())
                if ident in present or ident in resent:
                    dropped += 1
                else:
                    kept.append(line)
        if dropped:
            tmp = seg.with_suffix(".tmp")
            tmp.write_bytes(b"".join(kept))
            os.replace(tmp, seg)
            log.info("recovery: %s: %d message(s) already in Kafka or re-sent dropped, %d kept", seg, dropped,
                     len(kept))
