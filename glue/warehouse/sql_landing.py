"""SQL landing (SQL v2 on): records or archive files -> `raw_landing_input` -> the version's landing macros.

From v2 the landing facts (envelope event time, fan-out for archives, arrival watermark, typed ticker and
trade fields) are computed by the SQL version itself (the `raw_land_*` macros in `sql/models/landing/`),
so `glue featurize` and `glue replay` share one implementation and each frame's JSON is parsed once, in DuckDB,
in parallel.
This module only points the input view at the records and runs the inserts; it owns no landing rule of its
own (the Kafka bookkeeping, which never reaches SQL, is glue.warehouse.landing.KafkaBook, shared with v1).
"""

from __future__ import annotations

import contextlib
import json
from collections.abc import Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from glue.records import KIND_FRAME, KIND_MARKER
from glue.warehouse.landing import Coord, KafkaBook

if TYPE_CHECKING:
    import duckdb

    from glue.records import Record

INPUT = "raw_landing_input"
ROWS = "raw_landing_rows"
MARKS = "raw_landing_marks"
ARROW = "_landing_arrow"

# read_ndjson types of an archive line (glue.records.Record.to_archive_line); anything else is refused
_ARCHIVE_COLUMNS = ("{'v': 'BIGINT', 'kind': 'VARCHAR', 'recv_ns': 'BIGINT', 'conn': 'VARCHAR', 'iseq': 'BIGINT', "
                    "'frame': 'VARCHAR', 'marker': 'JSON'}")


@dataclass(frozen=True)
class LandedCounts:
    records: int
    frames: int
    markers: int
    late: int
    control: int
    no_time: int


def input_from_records(con: duckdb.DuckDBPyConnection, records: Sequence[Record | None],
                       coords: Sequence[Coord | None] | None) -> tuple[int, KafkaBook]:
    """Point `raw_landing_input` at records (Kafka: coords with key; replay: None); returns (rows, book)."""
    import pyarrow as pa

    book = KafkaBook()
    cols: dict[str, list[Any]] = {c: [] for c in ("kafka_key", "kind", "recv_ns", "conn", "iseq", "frame", "marker",
                                                  "topic", "kafka_partition", "kafka_offset")}
    for i, rec in enumerate(records):
        topic, partition, offset, key = book.note(coords[i] if coords is not None else None)
        if rec is None:
            book.n_dead += 1
            continue
        cols["kafka_key"].append(key)
        cols["kind"].append(rec.kind)
        cols["recv_ns"].append(rec.recv_ns)
        cols["conn"].append(rec.conn)
        cols["iseq"].append(rec.iseq)
        cols["frame"].append(rec.frame if rec.kind == KIND_FRAME else None)
        cols["marker"].append(json.dumps(rec.marker or {}, separators=(",", ":"), sort_keys=True)
                              if rec.kind == KIND_MARKER else None)
        cols["topic"].append(topic)
        cols["kafka_partition"].append(partition)
        cols["kafka_offset"].append(offset)
    table = pa.table(cols, schema=_input_schema())
    con.register(ARROW, table)  # unregistered by clear_input
    con.execute(f"CREATE OR REPLACE TEMP VIEW {INPUT} AS SELECT * FROM {ARROW}")
    return table.num_rows, book


def input_from_archives(con: duckdb.DuckDBPyConnection, paths: Sequence[str]) -> None:
    """Point `raw_landing_input` at archive files, read by DuckDB in file and line order when the landing runs.

    A line that is not an archive record reaches the landing with kind NULL, and `land_input` refuses the
    landing (ValueError; the caller can then read the file line by line, which names the line): nothing is
    skipped. (Not DuckDB's error() in the scan: measured, it doubled the CPU cost of the read.)
    """
    files = "[" + ", ".join("'" + p.replace("'", "''") + "'" for p in paths) + "]"
    max_line = max_object_size(paths)
    con.execute(f"""
        CREATE OR REPLACE TEMP VIEW {INPUT} AS
        SELECT
            NULL::VARCHAR AS kafka_key,
            CASE
                WHEN v = 1 AND recv_ns IS NOT NULL AND iseq IS NOT NULL AND conn IS NOT NULL
                     AND ((kind = 'frame' AND frame IS NOT NULL AND marker IS NULL)
                          OR (kind = 'marker' AND json_type(marker) = 'OBJECT' AND frame IS NULL))
                THEN kind
            END AS kind,
            recv_ns, conn, iseq, frame, CAST(marker AS VARCHAR) AS marker,
            NULL::VARCHAR AS topic, NULL::INTEGER AS kafka_partition, NULL::BIGINT AS kafka_offset
        -- at most 64 MB per line (a level2 snapshot is a few MB): DuckDB sizes its read buffers by this limit,
        -- and a much larger one (1 GB was tried) leaves one buffer per file, read by one thread; a longer line
        -- fails the read and replay falls back to the line-by-line reader
        FROM read_ndjson({files}, columns = {_ARCHIVE_COLUMNS}, format = 'newline_delimited',
                         maximum_object_size = {max_line})
    """)


MAX_OBJECT_SIZE = 64 * 2**20
MIN_OBJECT_SIZE = 2**20
SCAN_BYTES = 256 * 2**20  # inputs up to this size are scanned for their longest line (~0.1 s per 100 MB)


def max_object_size(paths: Sequence[str]) -> int:
    """DuckDB's per-line limit for these files. DuckDB allocates read buffers of twice this size whatever the
    lines hold, and a fixed 64 MB (128 MB buffers) was most of replay's memory on captures of short lines
    (mel-hsw: lines under 1 KB, peak RSS 430 MB). So: the next power of two above the longest line (at least
    1 MB), found by reading inputs of up to SCAN_BYTES; larger inputs keep the 64 MB of a level2 archive."""
    import os

    if sum(os.path.getsize(p) for p in paths) > SCAN_BYTES:
        return MAX_OBJECT_SIZE
    longest = 0
    for path in paths:
        with open(path, "rb") as fh:
            longest = max(longest, max(map(len, fh), default=0))
    size = MIN_OBJECT_SIZE
    while size <= longest and size < MAX_OBJECT_SIZE:
        size *= 2
    return size


def defines(con: duckdb.DuckDBPyConnection, *names: str) -> bool:
    """Whether the SQL applied on `con` defines every one of these macros (how the engine tells versions apart)."""
    found = con.execute("SELECT DISTINCT function_name FROM duckdb_functions() WHERE list_contains(?, function_name)",
                        [list(names)]).fetchall()
    return len(found) == len(set(names))


def has_state_macros(con: duckdb.DuckDBPyConnection) -> bool:
    """Whether the applied SQL version defines raw_land_products / raw_land_counts (v3 on): then its marks are
    stored in landing-row order and the version computes the per-product state and the counts itself."""
    return defines(con, "raw_land_products", "raw_land_counts")


def land_input(con: duckdb.DuckDBPyConnection, first_land_seq: int, lateness_ns: int, *,
               state_macros: bool = False) -> tuple[int, LandedCounts]:
    """Run the landing macros over `raw_landing_input` (inside the caller's transaction).

    Inserts raw_frames, raw_markers, raw_ticker_items, raw_trade_items and the per-product watermark state
    (ctl_products); returns (next land_seq, counts). `state_macros` (see `has_state_macros`): the version's
    raw_land_products() / raw_land_counts(...) give the state and the counts (v3 on); else (v2) the SQL here.
    """
    seq, lateness = int(first_land_seq), int(lateness_ns)
    con.execute(f"CREATE OR REPLACE TEMP TABLE {ROWS} AS SELECT * FROM raw_land_rows()")
    bad, n_markers, n_trade_frames = con.execute(f"""
        SELECT count(*) FILTER (WHERE kind IS NULL), count(*) FILTER (WHERE kind = 'marker'),
               count(*) FILTER (WHERE kind = 'frame' AND channel = 'market_trades')
        FROM {ROWS}
    """).fetchall()[0]
    if bad:
        raise ValueError(f"{bad} input lines are not archive records")
    con.execute(f"CREATE OR REPLACE TEMP TABLE {MARKS} AS "
                f"SELECT * FROM raw_land_marks(CAST({seq} AS BIGINT), CAST({lateness} AS BIGINT))")
    con.execute("INSERT INTO raw_frames SELECT * FROM raw_land_frames()")
    # an insert over a macro has a fixed planning cost of a few ms: skip the ones with nothing to insert
    if n_markers:
        con.execute("INSERT INTO raw_markers SELECT * FROM raw_land_markers()")
    con.execute("INSERT INTO raw_ticker_items SELECT * FROM raw_land_ticker_items()")
    if n_trade_frames:
        con.execute("INSERT INTO raw_trade_items SELECT * FROM raw_land_trade_items()")
    if state_macros:
        con.execute("INSERT OR REPLACE INTO ctl_products SELECT * FROM raw_land_products()")
        *row, misaligned = con.execute(f"SELECT * FROM raw_land_counts(CAST({seq} AS BIGINT))").fetchall()[0]
        if misaligned:  # never seen: the scratch tables are written in order by construction
            raise RuntimeError(f"landing scratch rows out of order ({misaligned} rows); nothing landed")
        _clear_scratch(con)
        return int(row[6]), LandedCounts(*(int(x) for x in row[:6]))
    con.execute(f"""
        INSERT OR REPLACE INTO ctl_products
        WITH landed AS (
            SELECT
                product_key AS product_id,
                max(event_ns) AS max_event_ns,
                min(event_ns) FILTER (WHERE arrival_wm_ns IS NULL OR event_ns >= arrival_wm_ns) AS min_accepted_ns
            FROM {ROWS} AS r
            JOIN {MARKS} AS m ON m.rid = r.rowid
            WHERE kind = 'frame' AND product_key <> '_control' AND event_ns IS NOT NULL
            GROUP BY product_key
        )
        SELECT
            l.product_id,
            greatest(p.max_event_ns, l.max_event_ns),
            least(p.min_accepted_event_ns, l.min_accepted_ns),
            p.last_final_s
        FROM landed AS l
        LEFT JOIN ctl_products AS p ON p.product_id = l.product_id
    """)
    totals = con.execute(f"""
        SELECT
            count(*) FILTER (WHERE key_idx = 1),
            count(*) FILTER (WHERE kind = 'frame'),
            count(*) FILTER (WHERE kind = 'marker'),
            count(*) FILTER (WHERE kind = 'frame' AND product_key <> '_control' AND event_ns < arrival_wm_ns),
            count(*) FILTER (WHERE kind = 'frame' AND product_key = '_control'),
            count(*) FILTER (WHERE kind = 'frame' AND product_key <> '_control' AND event_ns IS NULL),
            count(*) + {seq}
        FROM {ROWS} AS r
        JOIN {MARKS} AS m ON m.rid = r.rowid
    """).fetchall()[0]
    _clear_scratch(con)
    return int(totals[6]), LandedCounts(*(int(x) for x in totals[:6]))


def _clear_scratch(con: duckdb.DuckDBPyConnection) -> None:
    con.execute(f"CREATE OR REPLACE TEMP TABLE {ROWS} AS SELECT * FROM {ROWS} LIMIT 0")
    con.execute(f"CREATE OR REPLACE TEMP TABLE {MARKS} AS SELECT * FROM {MARKS} LIMIT 0")


def clear_input(con: duckdb.DuckDBPyConnection) -> None:
    """Drop the landing's input (the view stays, empty, for the next landing)."""
    con.execute(f"CREATE OR REPLACE TEMP VIEW {INPUT} AS SELECT * FROM {INPUT} WHERE false")
    with contextlib.suppress(Exception):  # registered only for record landings
        con.unregister(ARROW)


def _input_schema() -> Any:
    import pyarrow as pa

    return pa.schema([("kafka_key", pa.string()), ("kind", pa.string()), ("recv_ns", pa.int64()),
                      ("conn", pa.string()), ("iseq", pa.int64()), ("frame", pa.string()), ("marker", pa.string()),
                      ("topic", pa.string()), ("kafka_partition", pa.int32()), ("kafka_offset", pa.int64())])
