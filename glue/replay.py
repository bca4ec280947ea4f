"""Replay: archived (or imported) NDJSON -> a warehouse -> the same feature rows live featurize emits.

It drives the very engine `glue featurize` drives (`Warehouse.land` + `Warehouse.finalize`), in chunks of
records: since every rule depends only on data and per-product arrival order, any chunking gives the same
rows, bit for bit (the property tests check that), and chunks keep memory bounded. Like live, it does not
flush at the end: the last `lateness_s` seconds of each product are not final yet and are not emitted.
The course's `scripts/replay.py --raw data/raw/*.ndjson --out ...` is this function (`glue replay`).

Inputs are taken as people have them: files in the archive format are replayed as they are; any other file
(a peer's capture in a format `glue import` reads) is converted by `glue.importer.import_captures`, all such
files in one import run as `glue import` would, into a temporary directory that is removed afterwards (or
into `keep_import`, when asked), so the rows equal `glue import` then `glue replay`, bit for bit.
"""

from __future__ import annotations

import contextlib
import logging
import os
import signal
import threading
import time
from collections.abc import Iterable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

from glue.config import FeatureSettings
from glue.errors import DataError, WarehouseError
from glue.records import read_archive_fast

if TYPE_CHECKING:
    import pyarrow as pa

log = logging.getLogger("glue.replay")


@dataclass
class ReplayStats:
    files: int = 0
    records: int = 0
    frames: int = 0
    late: int = 0
    late_overlap: int = 0  # late frames in order within their own connection: behind another one (overlap)
    rows: int = 0
    label_rows: int = 0
    converted: int = 0  # input files in another format, converted with glue import's rules
    import_duplicates: int = 0
    seconds: float = 0.0
    book_breaks: dict[str, int] = field(default_factory=dict)  # level2 books broken, by reason (SQL v4)

    def line(self) -> str:
        rate = self.records / self.seconds if self.seconds else 0.0
        breaks = ", ".join(f"{reason} {n}" for reason, n in sorted(self.book_breaks.items()))
        files = f"{self.files} files" + (f" ({self.converted} converted by import rules, "
                                         f"{self.import_duplicates} duplicates removed)" if self.converted else "")
        return (f"replay: {files}, {self.records} records ({rate:,.0f}/s), {self.frames} frame rows, "
                f"{self.late_text()}, {self.rows} feature rows in {self.seconds:.1f} s"
                + (f"; level2 book breaks: {breaks}" if breaks else ""))


    def late_text(self) -> str:
        """The late frames, split by cause: they are dropped (their seconds were final when they landed)."""
        if not self.late:
            return "0 late"
        own = self.late - self.late_overlap
        return (f"{self.late} late dropped ({self.late_overlap} behind another connection's data: overlapping "
                f"captures of the same time, {own} out of order within their own connection)")


class LateSplit:
    """Splits each landing's late frames by cause, from the rows it stored in raw_frames.

    A frame is late when its event time is below its product's watermark (max event time landed so far -
    lateness). If it is not below the latest event time of its own connection (per product), the stream it
    came in was in order: another connection had already moved the watermark on, i.e. two captures overlap
    in time (two ingest processes, overlapping files). Otherwise its own connection went back in time (frames
    out of order, or the clock of the capture stepped back). Per landing it reads only the rows just landed.
    """

    def __init__(self) -> None:
        self.conn_max: dict[tuple[str, str], int] = {}  # (product, conn) -> max event_ns landed

    def landed(self, con: Any, first_seq: int, late: int) -> int:
        """After a landing of rows with land_seq >= first_seq: how many of its `late` frames were overlap."""
        import pyarrow as pa

        overlap = 0
        if late:
            prior = pa.table({"product_key": [p for p, _ in self.conn_max], "conn": [c for _, c in self.conn_max],
                              "prior_ns": list(self.conn_max.values())},
                             schema=pa.schema([("product_key", pa.string()), ("conn", pa.string()),
                                               ("prior_ns", pa.int64())]))
            con.register("_late_prior", prior)
            try:
                overlap = con.execute(
                    "WITH step AS (SELECT land_seq, product_key, conn, event_ns, arrival_wm_ns, max(event_ns) OVER "
                    "(PARTITION BY product_key, conn ORDER BY land_seq ROWS BETWEEN UNBOUNDED PRECEDING AND "
                    "1 PRECEDING) AS before_ns FROM raw_frames WHERE land_seq >= ? AND product_key <> '_control' "
                    "AND event_ns IS NOT NULL) "
                    "SELECT count(*) FROM step AS s LEFT JOIN _late_prior AS p USING (product_key, conn) "
                    "WHERE s.event_ns < s.arrival_wm_ns "
                    "AND s.event_ns >= coalesce(greatest(s.before_ns, p.prior_ns), s.event_ns)",
                    [first_seq]).fetchall()[0][0]
            finally:
                con.unregister("_late_prior")
        for product, conn, max_ns in con.execute(
                "SELECT product_key, conn, max(event_ns) FROM raw_frames WHERE land_seq >= ? "
                "AND product_key <> '_control' AND event_ns IS NOT NULL GROUP BY ALL", [first_seq]).fetchall():
            key = (product, conn)
            self.conn_max[key] = max(self.conn_max.get(key, max_ns), max_ns)
        return int(overlap)


def expand_paths(patterns: Iterable[str]) -> list[str]:
    """Archive files in archive order (path order: date directory, run id, file number); globs expanded."""
    import glob

    found: set[str] = set()
    for pat in patterns:
        matches = glob.glob(pat, recursive=True) if any(c in pat for c in "*?[") else [pat]
        for m in matches:
            p = Path(m)
            if p.is_dir():  # the suffixes glue import looks for under a directory
                found.update(str(x) for x in p.rglob("*") if x.is_file() and x.suffix in CAPTURE_SUFFIXES)
            elif p.is_file():
                found.add(str(p))
    if not found:
        raise DataError(f"no archive or capture files match {' '.join(patterns)}",
                        "pass NDJSON files written by glue ingest/import, or a capture glue import reads")
    return sorted(found)


CAPTURE_SUFFIXES = {".ndjson", ".jsonl", ".json"}


def is_archive_file(path: str) -> bool:
    """Whether the file is in the archive format: its first line that parses as JSON is an archive record.

    (A file whose lines are all unparsable is treated as a capture: the importer counts them, per reason.)
    """
    import json

    from glue.records import FORMAT_VERSION, KIND_FRAME, KIND_MARKER

    with open(path, encoding="utf-8", errors="surrogateescape") as fh:
        for line in fh:
            if not line.strip():
                continue
            try:
                obj = json.loads(line)
            except ValueError:
                continue
            return (isinstance(obj, dict) and obj.get("v") == FORMAT_VERSION
                    and obj.get("kind") in (KIND_FRAME, KIND_MARKER) and "recv_ns" in obj)
    return True  # an empty file: nothing to convert, the archive reader skips it


def convert_captures(paths: list[str], out_dir: str, stats: ReplayStats,
                     import_options: dict[str, Any] | None = None) -> list[str]:
    """Archive files to replay for `paths`: archive files unchanged, the others imported into `out_dir`.

    All non-archive files go through one `import_captures` run (in path order), as `glue import FILES`
    would; its archive files follow the input archive files.
    """
    archives = [p for p in paths if is_archive_file(p)]
    captures = [p for p in paths if p not in set(archives)]
    if not captures:
        return paths
    from glue.importer import import_captures

    summary = import_captures(captures, out_dir, **(import_options or {}))
    for line in summary.lines()[-1:]:
        log.info("replay: %s", line)
    stats.converted = len(captures)
    stats.import_duplicates = summary.duplicates
    if archives:
        log.info("replay: %d archive file(s) first, then %d converted capture file(s)", len(archives),
                 len(captures))
    return archives + expand_paths([out_dir])


def _chunks(records: Iterator[Any], size: int) -> Iterator[list[Any]]:
    chunk: list[Any] = []
    for rec in records:
        chunk.append(rec)
        if len(chunk) >= size:
            yield chunk
            chunk = []
    if chunk:
        yield chunk


def _replay_chunks(wh: Any, records: Iterator[Any], stats: ReplayStats, stop: threading.Event, chunk_records: int,
                   progress_interval_s: float, late_split: LateSplit) -> None:
    """Land + finalize chunks of records read in Python (SQL v1, and files DuckDB cannot read as archives)."""
    last, window = time.monotonic(), 0
    for chunk in _chunks(records, chunk_records):
        first_seq = wh.next_land_seq
        landed = wh.land(chunk)
        stats.late_overlap += late_split.landed(wh.con, first_seq, landed.late)
        finalize_all(wh)
        stats.records += landed.records
        stats.frames += landed.frames
        stats.late += landed.late
        window += landed.records
        now = time.monotonic()
        if now - last >= progress_interval_s:
            log.info("replay: %d records (%.0f/s over the last %.1f s)", stats.records, window / (now - last),
                     now - last)
            last, window = now, 0
        if stop.is_set():
            log.warning("replay: stopped by signal after %d records; output covers only those", stats.records)
            return


STEP_BYTES = 256 * 1024 * 1024  # archive bytes per landing step (the ingest archive rotates at this size)
FINALIZE_ROWS = 86_400  # product-seconds per finalize step (a day of one product): bounds its working memory
# DuckDB's limit for replay's throw-away warehouse at most: beyond it, tables spill to disk. Twice a landing
# step (STEP_BYTES) holds the data in flight; measured on the dense simulated day, 512 MB is as fast as 1 GB
# (17.3 vs 18.7 s) at 719 instead of 1,101 MB peak RSS, and 256 MB cannot land its 64 MB read buffers.
MEMORY_LIMIT_MB = 512
MIN_MEMORY_LIMIT_MB = 128  # the least the auto limit gives (a landing step of a small capture needs ~100 MB)


def auto_memory_limit(paths: list[str]) -> str:
    """The in-memory warehouse's DuckDB limit: twice the archive bytes, between MIN_MEMORY_LIMIT_MB and
    MEMORY_LIMIT_MB, so memory follows the data in flight (DuckDB fills its buffer pool up to the limit as
    caches: a short capture replayed under a fixed 1 GB peaked at 430 MB RSS for 48 MB of archive)."""
    total = sum(os.path.getsize(p) for p in paths if os.path.isfile(p))
    return f"{min(MEMORY_LIMIT_MB, max(MIN_MEMORY_LIMIT_MB, 2 * total // 2**20))}MB"
OUT_ROWS = 32 * 1024  # rows per Parquet row group of the output (~30 MB of v5 feature rows in Arrow)
FEATURE_WINDOW_S = 64 * 1024  # seconds of one product per read of the feature rows


def finalize_all(wh: Any) -> None:
    """Finalize everything that is final, in steps of at most FINALIZE_ROWS product-seconds (same rows)."""
    while wh.final_ranges():
        wh.finalize(max_rows=FINALIZE_ROWS, return_rows=False)


def write_sorted(con: Any, query: str, path: str, params_list: list[list[Any]] | None = None) -> int:
    """Stream query rows into a Parquet file (glue.parquet's options) in row groups of OUT_ROWS rows.

    The query runs once per entry of `params_list` (once, without parameters, when None), in order: the rows
    never sit in memory together. Row groups are made contiguous before writing, so the file's bytes depend
    only on the rows, not on how DuckDB batched them.
    """
    import pyarrow as pa
    import pyarrow.parquet as pq

    writer: pq.ParquetWriter | None = None
    schema = None
    pending: list[pa.RecordBatch] = []
    size = n = 0

    def flush(rows: int) -> None:
        nonlocal pending, size
        assert writer is not None  # opened with the first reader, before anything is pending
        group = pa.Table.from_batches(pending, schema).combine_chunks()
        writer.write_table(group.slice(0, rows), row_group_size=OUT_ROWS)
        rest = group.slice(rows)
        pending = rest.to_batches() if rest.num_rows else []
        size = rest.num_rows

    try:
        for params in params_list if params_list is not None else [None]:
            reader = con.sql(query, params=params).to_arrow_reader(OUT_ROWS)
            if writer is None:
                schema = reader.schema
                strings = [f.name for f in schema if pa.types.is_string(f.type) or pa.types.is_large_string(f.type)
                           or pa.types.is_dictionary(f.type)]
                writer = pq.ParquetWriter(path, schema, compression="zstd", use_dictionary=strings)
            for batch in reader:
                pending.append(batch)
                size += batch.num_rows
                n += batch.num_rows
                while size >= OUT_ROWS:
                    flush(OUT_ROWS)
        if writer is not None and (size or n == 0):
            flush(size)
    finally:
        if writer is not None:
            writer.close()
    return n


def write_features(con: Any, path: str) -> int:
    """exp_features sorted by (product_id, second_at), read per product in windows of FEATURE_WINDOW_S seconds
    (zone maps keep each read to its window), so no sort of the whole table is ever held in memory."""
    spans = con.execute("SELECT product_id, epoch(min(second_at))::BIGINT, epoch(max(second_at))::BIGINT "
                        "FROM exp_features GROUP BY product_id ORDER BY product_id").fetchall()
    params = [[pid, lo, lo + FEATURE_WINDOW_S] for pid, first, last in spans
              for lo in range(first, last + 1, FEATURE_WINDOW_S)]
    query = ("SELECT * EXCLUDE (batch_id) FROM exp_features WHERE product_id = $1 "
             "AND second_at >= make_timestamp($2::BIGINT * 1000000) "
             "AND second_at < make_timestamp($3::BIGINT * 1000000) "
             "ORDER BY second_at")
    if not params:
        return write_sorted(con, FEATURES_QUERY, path)
    return write_sorted(con, query, path, params)

def file_steps(paths: list[str], step_bytes: int = STEP_BYTES) -> list[list[str]]:
    """Consecutive groups of files of about `step_bytes` together (a bigger file is a step of its own).

    Many small files (short runs, imported captures) then cost one landing, not one each; any grouping gives
    the same rows.
    """
    steps: list[list[str]] = []
    size = 0
    for path in paths:
        n = Path(path).stat().st_size
        if not steps or size + n > step_bytes:
            steps.append([])
            size = 0
        steps[-1].append(path)
        size += n
    return steps


def _replay_files(wh: Any, paths: list[str], stats: ReplayStats, stop: threading.Event,
                  progress_interval_s: float, late_split: LateSplit) -> None:
    """Land + finalize a group of archive files per step, read and parsed by DuckDB (SQL landing versions).

    A group DuckDB refuses (a malformed line) is replayed line by line instead, which names the bad line.
    """
    started = last = time.monotonic()
    done = 0
    for step in file_steps(paths, STEP_BYTES):
        first_seq = wh.next_land_seq
        try:
            landed = wh.land_archives(step)
        except ValueError:
            _replay_chunks(wh, read_archive_fast(step), stats, stop, 100_000, progress_interval_s, late_split)
        else:
            stats.late_overlap += late_split.landed(wh.con, first_seq, landed.late)
            finalize_all(wh)
            stats.records += landed.records
            stats.frames += landed.frames
            stats.late += landed.late
        done += len(step)
        now = time.monotonic()
        if now - last >= progress_interval_s or done == len(paths):
            log.info("replay: file %d/%d, %d records (%.0f/s)", done, len(paths), stats.records,
                     stats.records / max(now - started, 1e-9))
            last = now
        if stop.is_set():
            log.warning("replay: stopped by signal after %d files; output covers only those", done)
            return


def replay(
    paths: list[str],
    out: str | None,
    features: FeatureSettings,
    *,
    warehouse: str = ":memory:",
    labels_out: str | None = None,
    chunk_records: int = 100_000,
    progress_interval_s: float = 5.0,
    stop: threading.Event | None = None,
    spill_dir: str | None = None,
    stats: ReplayStats | None = None,
    keep_table: bool = True,
    memory_limit: str | None = None,
) -> tuple[pa.Table | None, ReplayStats]:
    """Replay archive files into `warehouse` and write the feature rows to `out` (Parquet); returns (table, stats).

    `keep_table=False` (the CLI) returns no table: the rows go to `out` without ever being in memory at once.
    `memory_limit`: DuckDB's (default `auto_memory_limit` for a throw-away in-memory warehouse, which spills to
    `spill_dir` past it; else DuckDB's default).
    """
    from glue.warehouse import Warehouse

    stats = stats or ReplayStats()
    stats.files = stats.files or len(paths)
    stop = stop or threading.Event()
    started = time.monotonic()
    if memory_limit is None and warehouse == ":memory:" and spill_dir:
        memory_limit = auto_memory_limit(paths)
    with Warehouse.open(warehouse, features, temp_directory=spill_dir, memory_limit=memory_limit) as wh:
        if wh.next_land_seq:
            raise WarehouseError(f"warehouse {warehouse} already holds landed data",
                                 "replay into a new file (or the default in-memory warehouse)")
        try:
            late_split = LateSplit()
            if wh.version.landing == "sql":
                _replay_files(wh, paths, stats, stop, progress_interval_s, late_split)
            else:
                _replay_chunks(wh, read_archive_fast(paths), stats, stop, chunk_records, progress_interval_s,
                               late_split)
        except ValueError as exc:
            raise DataError(f"bad archive line: {exc}", "check the file (glue check) or re-import it") from exc
        stats.book_breaks = dict(wh.book_breaks)
        table = wh.features() if keep_table else None
        stats.rows = table.num_rows if table is not None else wh.con.execute(
            "SELECT count(*) FROM exp_features").fetchall()[0][0]
        if out:
            Path(out).parent.mkdir(parents=True, exist_ok=True)
            write_features(wh.con, out)
        if labels_out:
            Path(labels_out).parent.mkdir(parents=True, exist_ok=True)
            stats.label_rows = write_sorted(wh.con, LABELS_QUERY, labels_out)
    stats.seconds = time.monotonic() - started
    log.info("%s", stats.line())
    return table, stats


FEATURES_QUERY = "SELECT * EXCLUDE (batch_id) FROM exp_features ORDER BY product_id, second_at"  # Warehouse.features
LABELS_QUERY = "SELECT * FROM lbl_labels_1s ORDER BY product_id, second_at"  # Warehouse.labels


def run_replay(patterns: list[str], out: str | None, features: FeatureSettings, *,
               keep_import: str | None = None, import_options: dict[str, Any] | None = None,
               **kwargs: Any) -> tuple[pa.Table, ReplayStats]:
    """CLI entry: expand paths, convert captures in other formats, stop cleanly on SIGINT/SIGTERM, replay.

    Converted captures go to a temporary directory removed at the end, or to `keep_import` when given.
    """
    import tempfile

    stop = threading.Event()
    previous = {}
    for sig in (signal.SIGINT, signal.SIGTERM):
        with contextlib.suppress(ValueError):  # not the main thread: no handlers
            previous[sig] = signal.signal(sig, lambda *_: stop.set())
    try:
        inputs = expand_paths(patterns)
        stats = ReplayStats(files=len(inputs))
        with tempfile.TemporaryDirectory(prefix="glue-replay-") as tmp:
            paths = convert_captures(inputs, keep_import or str(Path(tmp) / "imported"), stats, import_options)
            if kwargs.get("warehouse") is None:
                # a throw-away in-memory warehouse that spills to a temporary directory: no file to write and
                # sync (measured: committing the landed frames to a file took longer than landing them), and a
                # long archive still does not exhaust RAM
                kwargs["warehouse"] = ":memory:"
                kwargs["spill_dir"] = str(Path(tmp) / "spill")
                Path(kwargs["spill_dir"]).mkdir()
            return replay(paths, out, features, stop=stop, stats=stats, **kwargs)
    finally:
        for sig, handler in previous.items():
            signal.signal(sig, handler)
