"""The disk spool: Kafka messages that could not be handed to the broker, kept in order until it returns.

An append-only queue of segment files `<spool_dir>/<run-id>-<NNNN>.spool` (NDJSON, one Kafka
message per line: key, value text, headers). `append` writes at the tail, `pop` reads from the head
in the same order; a segment is deleted once it has been read to the end and a newer one exists
(or the spool became empty). Segments left by an earlier run (a crash, or a broker that never came
back) are picked up at start, oldest first, so nothing spooled is lost across restarts.

Reading a message back hands it to the producer again: delivery is at least once (a message
purged while in flight at shutdown may already have reached the broker; consumers deduplicate on
`(glue.conn, glue.seq)`).
"""

from __future__ import annotations

import json
import logging
import os
from dataclasses import dataclass
from pathlib import Path
from typing import BinaryIO

log = logging.getLogger("glue.ingest.spool")


@dataclass(frozen=True, slots=True)
class SpooledMessage:
    key: bytes
    value: bytes
    headers: list[tuple[str, bytes]]
    attempts: int = 0  # failed deliveries with a non-transient error so far

    def to_line(self) -> bytes:
        obj = {
            "k": self.key.decode("utf-8", "surrogateescape"),
            # ensure_ascii keeps any odd bytes (as surrogate escapes) reversible
            "v": self.value.decode("utf-8", "surrogateescape"),
            "h": [[name, value.decode("latin-1")] for name, value in self.headers],
            "a": self.attempts,
        }
        return json.dumps(obj, separators=(",", ":")).encode("ascii") + b"\n"

    @classmethod
    def from_line(cls, line: bytes) -> SpooledMessage:
        obj = json.loads(line)
        return cls(
            key=obj["k"].encode("utf-8", "surrogateescape"),
            value=obj["v"].encode("utf-8", "surrogateescape"),
            headers=[(name, value.encode("latin-1")) for name, value in obj["h"]],
            attempts=int(obj.get("a", 0)),
        )


class Spool:
    """FIFO of Kafka messages on disk, in segment files."""

    def __init__(self, directory: str | Path, run_id: str, segment_bytes: int = 64 * 1024 * 1024) -> None:
        self.dir = Path(directory)
        self.run_id = run_id
        self.segment_bytes = segment_bytes
        self.pending = 0  # messages written and not yet read back
        self.appended_total = 0
        self.popped_total = 0
        self._segments: list[Path] = []
        self._writer: BinaryIO | None = None
        self._writer_path: Path | None = None
        self._writer_bytes = 0
        self._reader: BinaryIO | None = None
        self._reader_path: Path | None = None
        self._counter = 0
        self._recover()

    def _recover(self) -> None:
        if not self.dir.is_dir():
            return
        for path in sorted(self.dir.glob("*.spool")):
            with open(path, "rb") as fh:
                count = sum(1 for line in fh if line.strip())
            if count == 0:
                path.unlink()
                continue
            self._segments.append(path)
            self.pending += count
        if self._segments:
            log.warning("spool: %d message(s) left by an earlier run in %s; they are sent first",
                        self.pending, self.dir)

    def append(self, message: SpooledMessage) -> None:
        data = message.to_line()
        if self._writer is None or (self._writer_bytes + len(data) > self.segment_bytes and self._writer_bytes):
            self._open_segment()
        assert self._writer is not None
        self._writer.write(data)
        self._writer_bytes += len(data)
        self.pending += 1
        self.appended_total += 1

    def flush(self, fsync: bool = False) -> None:
        if self._writer is not None:
            self._writer.flush()
            if fsync:
                os.fsync(self._writer.fileno())

    def pop(self) -> SpooledMessage | None:
        """The oldest message, or None when the spool is empty."""
        while self.pending > 0 and self._segments:
            if self._reader is None:
                self._reader_path = self._segments[0]
                if self._writer is not None and self._reader_path == self._writer_path:
                    self._writer.flush()
                self._reader = open(self._reader_path, "rb")  # noqa: SIM115 - closed when exhausted
            line = self._reader.readline()
            if not line.endswith(b"\n") and self._reader_path == self._writer_path:
                # At the tail of the segment being written: hand buffered lines to the OS, re-read.
                self._reader.seek(-len(line), os.SEEK_CUR)
                if self._writer is not None:  # it is: the reader is at the writer's segment
                    self._writer.flush()
                line = self._reader.readline()
                if not line.endswith(b"\n"):
                    self._reader.seek(-len(line), os.SEEK_CUR)
                    return None
            if line.endswith(b"\n"):
                if not line.strip():
                    continue
                self.pending -= 1
                self.popped_total += 1
                return SpooledMessage.from_line(line)
            self._finish_reader()
        return None

    def _finish_reader(self) -> None:
        """The head segment is read to the end: delete it."""
        assert self._reader is not None and self._reader_path is not None
        self._reader.close()
        self._reader = None
        self._segments.pop(0)
        if self._writer is not None and self._reader_path == self._writer_path:
            self._writer.close()
            self._writer = None
            self._writer_path = None
        self._reader_path.unlink(missing_ok=True)
        self._reader_path = None

    def _open_segment(self) -> None:
        if self._writer is not None:
            self._writer.flush()
            os.fsync(self._writer.fileno())
            self._writer.close()
        self.dir.mkdir(parents=True, exist_ok=True)
        while True:
            self._counter += 1
            path = self.dir / f"{self.run_id}-{self._counter:04d}.spool"
            if not path.exists():
                break
        self._writer = open(path, "ab")  # noqa: SIM115 - closed at rotation or close()
        self._writer_path = path
        self._writer_bytes = 0
        self._segments.append(path)

    def close(self) -> None:
        """Keep what is pending on disk (fsync'd); delete a fully-read segment."""
        if self._writer is not None:
            self._writer.flush()
            os.fsync(self._writer.fileno())
            self._writer.close()
            self._writer = None
        if self.pending == 0:
            if self._reader is not None:
                self._reader.close()
                self._reader = None
            for path in self._segments:
                path.unlink(missing_ok=True)
            self._segments.clear()
        else:
            # The head segment is partly read: rewrite it from the read position, so a restart
            # does not re-send what was already handed to the producer.
            self._compact_head()

    def _compact_head(self) -> None:
        if self._reader_path is None or self._reader is None:
            return
        rest = self._reader.read()
        self._reader.close()
        self._reader = None
        tmp = self._reader_path.with_suffix(".tmp")
        with open(tmp, "wb") as fh:
            fh.write(rest)
            fh.flush()
            os.fsync(fh.fileno())
        os.replace(tmp, self._reader_path)
        self._reader_path = None

    def __len__(self) -> int:
        return self.pending
