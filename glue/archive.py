"""The NDJSON archive writer: every record (frames and markers) as one line, append-only.

`ArchiveWriter` is a `glue.sinks.Sink`: `add` buffers a record's line, `flush` hands the lines to the OS,
`close` fsyncs and closes the file.

Layout (docs/contracts.md section 2): `<root>/YYYY-MM-DD/<run-id>-<NNNN>.ndjson`, the date being the
UTC receipt date of the file's first record. A file is rotated when it would pass `rotate_bytes` or
when the UTC date of the records changes; `NNNN` counts files per run. Files are never rewritten.

Durability: lines are buffered in memory and written to the OS on `flush()` (the ingest pipeline
flushes before it hands the same records to Kafka, so anything Kafka acknowledged is already in
the archive even if the process dies); `fsync` happens at rotation, at `close()`, and on `sync()`.
"""

from __future__ import annotations

import json
import json.encoder
import logging
import os
from datetime import UTC, datetime
from pathlib import Path

from glue.records import FORMAT_VERSION, KIND_FRAME, Record

log = logging.getLogger("glue.archive")

_encode_str = json.encoder.encode_basestring  # the C string encoder json.dumps(ensure_ascii=False) uses


def archive_line(record: Record) -> str:
    """`record.to_archive_line()`, byte for byte, with a fast path for plain frames (the hot path)."""
    if record.kind == KIND_FRAME and not record.extra and record.frame is not None:
        return (f'{{"v":{FORMAT_VERSION},"kind":"frame","recv_ns":{record.recv_ns},"conn":{_encode_str(record.conn)},'
                f'"iseq":{record.iseq},"frame":{_encode_str(record.frame)}}}')
    return record.to_archive_line()


def utc_date(ns: int) -> str:
    """The UTC calendar date (YYYY-MM-DD) of an epoch-ns timestamp."""
    return datetime.fromtimestamp(ns // 1_000_000_000, tz=UTC).strftime("%Y-%m-%d")


class ArchiveWriter:
    """Appends archive lines to rotated files: add, flush to hand them to the OS, close to fsync."""

    def __init__(self, root: str | Path, run_id: str, rotate_bytes: int = 256 * 1024 * 1024) -> None:
        self.root = Path(root)
        self.run_id = run_id
        self.rotate_bytes = max(1, int(rotate_bytes))
        self.files: list[Path] = []  # every file this writer created, in order
        self.lines_written = 0
        self.bytes_written = 0
        self._fh = None
        self._path: Path | None = None
        self._date: str | None = None
        self._day: int | None = None  # UTC day number of the current file
        self._file_bytes = 0
        self._buffer: list[bytes] = []
        self._buffer_bytes = 0

    @property
    def current_path(self) -> Path | None:
        return self._path

    def add(self, record: Record) -> None:
        """Buffer one record's line; the file is chosen (and rotated) by size and receipt date."""
        self.write_line(archive_line(record), record.recv_ns)

    def write_line(self, line: str, recv_ns: int) -> None:
        data = line.encode("utf-8") + b"\n"
        used = self._file_bytes + self._buffer_bytes
        if (
            self._fh is None
            or (used > 0 and used + len(data) > self.rotate_bytes)
            or recv_ns // 86_400_000_000_000 != self._day
        ):
            self._rotate(recv_ns)
        self._buffer.append(data)
        self._buffer_bytes += len(data)
        self.lines_written += 1

    def flush(self) -> None:
        """Write buffered lines to the OS (survives a crash of this process, not of the machine)."""
        if self._buffer and self._fh is not None:
            self._fh.write(b"".join(self._buffer))
            self._fh.flush()
            self._file_bytes += self._buffer_bytes
            self.bytes_written += self._buffer_bytes
            self._buffer.clear()
            self._buffer_bytes = 0

    def sync(self) -> None:
        """Flush and fsync the current file (survives a machine crash)."""
        self.flush()
        if self._fh is not None:
            os.fsync(self._fh.fileno())

    def close(self) -> None:
        self._close_current()

    def __enter__(self) -> ArchiveWriter:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def _close_current(self) -> None:
        if self._fh is not None:
            self.sync()
            self._fh.close()
            self._fh = None

    def _rotate(self, recv_ns: int) -> None:
        self._close_current()
        self._date = utc_date(recv_ns)
        self._day = recv_ns // 86_400_000_000_000
        directory = self.root / self._date
        directory.mkdir(parents=True, exist_ok=True)
        number = len(self.files) + 1
        path = directory / f"{self.run_id}-{number:04d}.ndjson"
        # "x": a file is never rewritten, even if two runs somehow share a run id.
        self._fh = open(path, "xb")  # noqa: SIM115 - kept open across calls, closed in _close_current
        self._path = path
        self._file_bytes = 0
        self.files.append(path)
        log.info("archive: writing %s", path)
