"""The incremental engine: one DuckDB file, the versioned SQL applied to it, land -> finalize -> export.

`Warehouse` is what `glue featurize` (live, Kafka) and `glue replay` (archives) both drive, so replay
equals live by construction: the same landing rule, the same SQL, the same finalize step.

Transactions (DuckDB is the source of truth):
* `land()`      raw rows + Kafka offsets + per-product watermark state, in ONE transaction;
* `finalize()`  new int_grid_1s rows + the feature rows (exp_features) + last final second per product +
                an export batch record (+ SQL v4's level2 book state, glue/warehouse/book.py), in ONE transaction;
* `mark_exported()` flips the batch's export watermark after the caller has published it.
Killed at any point, a reopened warehouse continues from its committed state: nothing is computed twice,
nothing is lost; `pending_exports()` hands back what was finalized but not yet marked exported.

Cost per finalize is bounded: every scan is restricted (zone maps) to the event-time range being finalized
plus the 300-s feature look-back (600 s for trade de-duplication); nothing rescans history.
"""

from __future__ import annotations

import contextlib
import json
import logging
import time
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any, overload

from glue.config import FeatureSettings
from glue.errors import WarehouseError
from glue.records import Record
from glue.warehouse.book import BookFold, has_book
from glue.warehouse.landing import FRAME_COLUMNS, MARKER_COLUMNS, Coord, KafkaBook, ProductState, build_batch
from glue.warehouse.manifest import SqlVersion, load_version

if TYPE_CHECKING:
    import duckdb
    import pyarrow as pa

log = logging.getLogger("glue.warehouse")

NS = 1_000_000_000


@dataclass(frozen=True)
class ExportBatch:
    """Feature rows finalized in one step, pending publication until `mark_exported(batch_id)`."""

    batch_id: int
    rows: Any  # pyarrow.Table, sorted by (product_id, second_at), feature-row schema
    first_partition: int  # coordinates of the first record landed for this batch (-1 for replay)
    first_offset: int
    next_offsets: dict[int, int]  # partition -> next offset landed when the batch was made


@dataclass
class LandStats:
    records: int = 0
    frames: int = 0
    markers: int = 0
    late: int = 0
    control: int = 0
    no_time: int = 0
    dead: int = 0


def connect(path: str, read_only: bool = False) -> duckdb.DuckDBPyConnection:
    """A DuckDB connection; a locked file becomes a WarehouseError with what to do."""
    import duckdb

    try:
        con = duckdb.connect(path, read_only=read_only)
    except duckdb.IOException as exc:
        raise WarehouseError(
            f"cannot open warehouse {path} ({str(exc).splitlines()[0]})",
            "another process holds it (one writer per file); use `glue sql`, which falls back to the snapshot",
        ) from exc
    # no progress bar: long queries of the engine would draw it into the logs of featurize and replay
    con.execute("SET enable_progress_bar = false")
    return con


class Warehouse:
    """A DuckDB warehouse at one SQL version. Open with `Warehouse.open(path, settings.features)`.

    Live use (glue featurize), per Kafka micro-batch:
        wh.land(records, coords)   # coords[i] = (topic, partition, offset, key); records[i] may be None
        wh.finalize()              # -> pyarrow.Table of the rows that became final (also recorded)
        for b in wh.pending_exports(): publish(b.rows); wh.mark_exported(b.batch_id)
        wh.publish_snapshot()      # Parquet parts for `glue sql` while this process holds the file
    Replay: the same calls with coords=None (records are fanned out by glue.records' rule).
    """

    def __init__(self, con: duckdb.DuckDBPyConnection, path: str, features: FeatureSettings,
                 version: SqlVersion) -> None:
        self.con = con
        self._closed = False
        self.path = path
        self.settings = features
        self.version = version
        self.lateness_ns = int(features.lateness_s) * NS
        self.states: dict[str, ProductState] = {}
        self.next_land_seq = 0
        self.stats = LandStats()
        self._state_macros = False  # the version's landing computes ctl_products and the counts (v3 on)
        if version.landing == "sql":
            from glue.warehouse import sql_landing

            self._state_macros = sql_landing.has_state_macros(con)
        self._book: BookFold | None = BookFold(con) if has_book(con) else None  # level2 book (v4 on)
        # SQL v5 on: a hole (a second one data gap covers whole) has no grid row, so replay's steps skip holes
        self._sessions = bool(con.execute(
            "SELECT count(*) FROM duckdb_columns() WHERE table_name = 'int_grid_1s' AND column_name = 'session_start_s'"
        ).fetchall()[0][0])
        # reason -> count: gaps that broke a valid book; late frames, bad levels and bad events always
        self.book_breaks: dict[str, int] = {}
        self._load_state()

    # ------------------------------------------------------------------ open / close
    @classmethod
    def open(cls, path: str, features: FeatureSettings, *, sql_dir: str | None = None,
             temp_directory: str | None = None, memory_limit: str | None = None) -> Warehouse:
        """Open (or create) the warehouse file (":memory:" for a throw-away one) and apply the SQL version.

        `temp_directory`: where DuckDB spills when memory runs short (an in-memory warehouse spills there too).
        `memory_limit` (e.g. "400MB"): DuckDB's buffer limit; past it, tables and operators spill to
        `temp_directory` (DuckDB's default is 80 % of RAM: an in-memory warehouse then never spills).
        """
        version = load_version(sql_dir or features.sql_dir, features.sql_version)
        if features.windows_s and version.windows_s and tuple(features.windows_s) != version.windows_s:
            raise WarehouseError(
                f"features.windows_s {tuple(features.windows_s)} differs from SQL {version.name} {version.windows_s}",
                "windows are part of the SQL version: change the setting back or write a new version",
            )
        if int(features.horizon_s) != version.horizon_s:
            raise WarehouseError(f"features.horizon_s {features.horizon_s} differs from SQL {version.name} "
                                 f"({version.horizon_s})", "the horizon is part of the SQL version")
        if path != ":memory:":
            Path(path).parent.mkdir(parents=True, exist_ok=True)
        con = connect(path)
        try:
            if temp_directory:
                con.execute("SET temp_directory = ?", [str(temp_directory)])
            if memory_limit:
                try:
                    con.execute("SET memory_limit = ?", [str(memory_limit)])
                except Exception as exc:
                    raise WarehouseError(f"memory limit {memory_limit!r} not accepted ({str(exc).splitlines()[0]})",
                                         "give a size such as 500MB or 2GB") from exc
            _apply(con, version, int(features.lateness_s))
        except BaseException:
            con.close()
            raise
        return cls(con, path, features, version)

    def close(self) -> None:
        if not self._closed:
            self._closed = True
            self.con.close()

    def __enter__(self) -> Warehouse:
        return self

    def __exit__(self, *exc: Any) -> None:
        self.close()

    def _load_state(self) -> None:
        rows = self.con.execute(
            "SELECT product_id, max_event_ns, min_accepted_event_ns, last_final_s FROM ctl_products").fetchall()
        self.states = {p: ProductState(m, a, f) for p, m, a, f in rows}
        self.next_land_seq = int(self._meta("next_land_seq", "0"))

    @overload
    def _meta(self, key: str, default: str) -> str: ...
    @overload
    def _meta(self, key: str, default: None = None) -> str | None: ...

    def _meta(self, key: str, default: str | None = None) -> str | None:
        row = self.con.execute("SELECT value FROM ctl_meta WHERE key = ?", [key]).fetchall()
        return row[0][0] if row else default

    def _set_meta(self, key: str, value: Any) -> None:
        self.con.execute("INSERT OR REPLACE INTO ctl_meta VALUES (?, ?)", [key, str(value)])

    # ------------------------------------------------------------------ land
    def land(self, records: Sequence[Record | None], coords: Sequence[Coord | None] | None = None) -> LandStats:
        """Insert records (and the consumed offsets) in one transaction.

        `coords[i]` is `(topic, partition, offset)` or `(topic, partition, offset, key)` for Kafka records
        (key = the Kafka key = product key), or None (replay: fanned out with glue.records' rule).
        A None record is a consumed-but-dead-lettered message: only its offset is stored.
        """
        import pyarrow as pa

        if not records:
            return LandStats()
        if coords is not None and len(coords) != len(records):
            raise ValueError("records and coords differ in length")
        if self.version.landing == "sql":
            return self._land_sql(records, coords)
        saved = {p: ProductState(s.max_event_ns, s.min_accepted_event_ns, s.last_final_s)
                 for p, s in self.states.items()}
        batch, next_seq = build_batch(records, coords, self.states, self.next_land_seq, self.lateness_ns)
        con = self.con
        try:
            con.execute("BEGIN TRANSACTION")
            if batch.frames["land_seq"]:
                frames = pa.table({c: batch.frames[c] for c in FRAME_COLUMNS}, schema=_frame_schema())
                con.register("_land_frames", frames)
                con.execute("INSERT INTO raw_frames SELECT * FROM _land_frames")
                con.unregister("_land_frames")
            if batch.markers["land_seq"]:
                markers = pa.table({c: batch.markers[c] for c in MARKER_COLUMNS}, schema=_marker_schema())
                con.register("_land_markers", markers)
                con.execute("INSERT INTO raw_markers SELECT * FROM _land_markers")
                con.unregister("_land_markers")
            for pid in sorted(batch.touched):
                st = self.states[pid]
                con.execute("INSERT OR REPLACE INTO ctl_products VALUES (?, ?, ?, ?)",
                            [pid, st.max_event_ns, st.min_accepted_event_ns, st.last_final_s])
            self._store_book(batch, next_seq)
            con.execute("COMMIT")
        except BaseException:
            _rollback(con)
            self.states = saved
            raise
        self.next_land_seq = next_seq
        return self._count(LandStats(records=len(records), frames=len(batch.frames["land_seq"]),
                                     markers=len(batch.markers["land_seq"]), late=batch.n_late,
                                     control=batch.n_control, no_time=batch.n_no_time, dead=batch.n_dead))

    def land_archives(self, paths: Sequence[str]) -> LandStats:
        """Land whole archive files in one transaction, read and parsed by DuckDB (SQL landing versions only).

        The same landing macros as `land()`, so the rows equal landing the files' records in any cut.
        Raises ValueError if DuckDB cannot read a file as archive lines (replay then reads it line by line,
        which names the bad line); nothing is landed then.
        """
        import duckdb

        from glue.warehouse import sql_landing

        if self.version.landing != "sql":
            raise WarehouseError(f"SQL {self.version.name} lands records in Python", "use land() with records")
        def fill(con: duckdb.DuckDBPyConnection) -> KafkaBook:
            sql_landing.input_from_archives(con, paths)
            return KafkaBook()  # archives carry no Kafka coordinates

        try:
            return self._count(self._land_sql_input(fill))
        except duckdb.OutOfMemoryException as exc:  # not a file problem: reading it line by line would not help
            raise WarehouseError(f"DuckDB ran out of memory landing {len(paths)} file(s) "
                                 f"({str(exc).splitlines()[0]})", "raise the memory limit (glue replay "
                                 "--memory-limit) or split the archive into smaller files") from exc
        except duckdb.Error as exc:
            raise ValueError(f"DuckDB cannot land {', '.join(paths)}: {str(exc).splitlines()[0]}") from exc

    def _land_sql(self, records: Sequence[Record | None], coords: Sequence[Coord | None] | None) -> LandStats:
        from glue.warehouse import sql_landing

        out = self._land_sql_input(lambda con: sql_landing.input_from_records(con, records, coords)[1])
        out.records = len(records)
        return self._count(out)

    def _land_sql_input(self, fill: Any) -> LandStats:
        """One landing transaction of a SQL-landing version: `fill(con)` points the input view at the records
        and returns their KafkaBook; on any failure nothing is landed and the in-memory state is reloaded."""
        from glue.warehouse import sql_landing

        con = self.con
        try:
            con.execute("BEGIN TRANSACTION")
            out = self._land_input(fill(con))
            con.execute("COMMIT")
        except BaseException:
            _rollback(con)
            self._load_state()
            raise
        finally:
            with contextlib.suppress(Exception):
                sql_landing.clear_input(con)
        return out

    def _land_input(self, book: Any) -> LandStats:
        """Inside a transaction: run the landing macros over raw_landing_input, store offsets and counters."""
        from glue.warehouse import sql_landing

        next_seq, counts = sql_landing.land_input(self.con, self.next_land_seq, self.lateness_ns,
                                                   state_macros=self._state_macros)
        self._store_book(book, next_seq)
        self._load_state()  # the landing SQL updated ctl_products
        return LandStats(records=counts.records + book.n_dead, frames=counts.frames, markers=counts.markers,
                         late=counts.late, control=counts.control, no_time=counts.no_time, dead=book.n_dead)

    def _store_book(self, book: KafkaBook, next_seq: int) -> None:
        """Inside the landing transaction: the consumed offsets, the batch's first coordinate, the next land_seq."""
        for (topic, partition), nxt in book.offsets.items():
            self.con.execute(
                "INSERT INTO raw_offsets VALUES (?, ?, ?) ON CONFLICT (topic, kafka_partition) "
                "DO UPDATE SET next_offset = greatest(raw_offsets.next_offset, excluded.next_offset)",
                [topic, partition, nxt])
        if book.first_coord is not None and self._meta("pending_first_coord") is None:
            self._set_meta("pending_first_coord", f"{book.first_coord[0]}:{book.first_coord[1]}")
        self._set_meta("next_land_seq", next_seq)

    def _count(self, out: LandStats) -> LandStats:
        for name in out.__dataclass_fields__:
            setattr(self.stats, name, getattr(self.stats, name) + getattr(out, name))
        return out

    # ------------------------------------------------------------------ finalize
    def final_ranges(self) -> dict[str, tuple[int, int]]:
        """Per product, the seconds [from_s, to_s] that are final now but not yet materialised.

        Second t is final when t * 1e9 < max_event_ns - lateness_ns (the product's watermark W): every
        frame still to come for it has event time >= W (earlier ones are late), so it lands after t.
        """
        ranges = {}
        for pid, st in sorted(self.states.items()):
            if st.max_event_ns is None or st.min_accepted_event_ns is None:
                continue
            to_s = (st.max_event_ns - self.lateness_ns - 1) // NS
            from_s = st.last_final_s + 1 if st.last_final_s is not None else -(-st.min_accepted_event_ns // NS)
            if to_s >= from_s:
                ranges[pid] = (from_s, to_s)
        return ranges

    def finalize(self, max_rows: int | None = None, return_rows: bool = True) -> pa.Table | None:
        """Materialise every second that became final; record the rows as one export batch; return them.

        `max_rows` (replay): finalize only a prefix of the final seconds, about `max_rows` product-seconds
        from the lowest one, so one step's working memory is bounded by that, not by the span that became
        final (an archive's first landing can make days final at once); call again while `final_ranges()` is
        not empty. From SQL v5 the seconds of holes that every product in the step shares do not count (they
        have no rows): a capture of short sessions weeks apart takes as many steps as its rows need, not one
        per day of its calendar (each step has a fixed cost of about 0.1 s). Any prefix gives the same rows:
        a second depends only on data at or before it, and what landed is fixed (the same property that makes
        any micro-batch cut equal). `return_rows=False` skips reading the batch back (replay does not need it).
        """
        import pyarrow as pa

        ranges = self.final_ranges()
        if ranges and max_rows is not None:
            lo = min(a for a, _ in ranges.values())
            cap = self._step_cap(lo, max(1, max_rows // len(ranges)), sorted(ranges))
            ranges = {p: (a, min(b, cap)) for p, (a, b) in ranges.items() if a <= cap}
        if not ranges:
            return self.empty_rows() if return_rows else None
        lo = min(a for a, _ in ranges.values())
        hi = max(b for _, b in ranges.values())
        con = self.con
        batch_id = int(self._meta("next_batch_id", "1"))
        try:
            con.execute("BEGIN TRANSACTION")
            con.execute("DELETE FROM ctl_finalize")
            scope = pa.table({"product_id": list(ranges), "from_s": [a for a, _ in ranges.values()],
                              "to_s": [b for _, b in ranges.values()]})
            con.register("_scope", scope)
            con.execute("INSERT INTO ctl_finalize SELECT product_id, from_s, to_s FROM _scope")
            con.unregister("_scope")
            if self._book is not None:
                folded = self._book.step(ranges, lo, hi)
            con.execute("INSERT INTO int_grid_1s SELECT * FROM "
                        f"int_grid_1s_step(CAST({lo} AS BIGINT), CAST({hi} AS BIGINT))")
            con.execute(
                f"INSERT INTO exp_features SELECT f.*, {batch_id} "
                f"FROM feat_features_1s_in(CAST({lo} AS BIGINT), CAST({hi} AS BIGINT)) AS f "
                "JOIN ctl_finalize AS c ON c.product_id = f.product_id "
                "AND f.second_at BETWEEN make_timestamp(c.from_s * 1000000) AND make_timestamp(c.to_s * 1000000)")
            n_rows = con.execute("SELECT count(*) FROM exp_features WHERE batch_id = ?", [batch_id]).fetchall()[0][0]
            con.execute("UPDATE ctl_products SET last_final_s = c.to_s FROM ctl_finalize AS c "
                        "WHERE ctl_products.product_id = c.product_id")
            first = self._meta("pending_first_coord")
            fp, fo = (int(x) for x in first.split(":")) if first else (-1, -1)
            offsets = {str(p): o for (_, p), o in sorted(self.committed_offsets().items())}
            con.execute("INSERT INTO ctl_exports VALUES (?, ?, ?, ?, ?, ?, NULL)",
                        [batch_id, n_rows, fp, fo, json.dumps(offsets, sort_keys=True), time.time_ns()])
            con.execute("DELETE FROM ctl_meta WHERE key = 'pending_first_coord'")
            self._set_meta("next_batch_id", batch_id + 1)
            con.execute("DELETE FROM ctl_finalize")
            con.execute("COMMIT")
        except BaseException:
            _rollback(con)
            if self._book is not None:
                self._book.forget()
            raise
        for pid, (_, to_s) in ranges.items():
            self.states[pid].last_final_s = to_s
        if self._book is not None:
            self._note_book_breaks(folded.breaks)
        return self.batch_rows(batch_id) if return_rows else None

    def _step_cap(self, lo: int, budget: int, products: list[str]) -> int:
        """The last second of a step from `lo` holding `budget` seconds that are not holes of every product."""
        if not self._sessions:
            return lo + budget - 1
        holes: dict[str, list[tuple[int, int]]] = {p: [] for p in products}
        for pid, a, b in self.con.execute(
                "SELECT product_id, (eff_from_ns + 999999999) // 1000000000 + 1 AS a, to_ns // 1000000000 AS b "
                "FROM stg_gaps WHERE list_contains(?, product_id) AND to_ns // 1000000000 >= ? ORDER BY a, b",
                [products, lo]).fetchall():
            if a <= b:
                holes[pid].append((int(a), int(b)))
        shared = _merge(holes[products[0]])
        for pid in products[1:]:
            shared = _intersect(shared, _merge(holes[pid]))
        pos, left = lo, budget
        for a, b in shared:
            if b < pos:
                continue
            if a > pos:
                if a - pos >= left:
                    break
                left -= a - pos
            pos = b + 1
        return pos + left - 1

    def _note_book_breaks(self, breaks: dict[str, int]) -> None:
        """Count and log the level2 books that became invalid (the grid falls back to the ticker's quote)."""
        for reason, n in sorted(breaks.items()):
            self.book_breaks[reason] = self.book_breaks.get(reason, 0) + n
        if breaks:
            log.info("level2 book breaks this step: %s (until the next snapshot the top of book comes from the "
                     "ticker channel)", ", ".join(f"{r} {n}" for r, n in sorted(breaks.items())))

    # ------------------------------------------------------------------ export watermark
    def batch_rows(self, batch_id: int) -> pa.Table:
        return self.con.sql(
            "SELECT * EXCLUDE (batch_id) FROM exp_features WHERE batch_id = ? ORDER BY product_id, second_at",
            params=[batch_id]).to_arrow_table()

    def empty_rows(self) -> pa.Table:
        return self.con.sql("SELECT * EXCLUDE (batch_id) FROM exp_features LIMIT 0").to_arrow_table()

    def pending_exports(self) -> list[ExportBatch]:
        """Export batches finalized but not yet marked exported, oldest first (re-send these after a restart)."""
        rows = self.con.execute(
            "SELECT batch_id, first_partition, first_offset, next_offsets FROM ctl_exports "
            "WHERE exported_ns IS NULL ORDER BY batch_id").fetchall()
        return [ExportBatch(int(b), self.batch_rows(int(b)), int(fp), int(fo),
                            {int(k): int(v) for k, v in json.loads(no).items()}) for b, fp, fo, no in rows]

    def mark_exported(self, batch_id: int) -> None:
        """Advance the export watermark past `batch_id` (one transaction)."""
        self.con.execute("UPDATE ctl_exports SET exported_ns = ? WHERE batch_id <= ? AND exported_ns IS NULL",
                         [time.time_ns(), batch_id])

    def committed_offsets(self) -> dict[tuple[str, int], int]:
        """(topic, partition) -> the next offset to consume, as landed in DuckDB."""
        rows = self.con.execute("SELECT topic, kafka_partition, next_offset FROM raw_offsets").fetchall()
        return {(t, int(p)): int(o) for t, p, o in rows}

    # ------------------------------------------------------------------ partition takeover
    def begin_takeover(self, topic: str, partition: int, group_offset: int) -> bool:
        """Note that a previous owner (another warehouse) published this partition's rows up to `group_offset`.

        `glue featurize` calls it when the consumer group hands this warehouse a partition it holds no
        offsets for while the group has committed ones (a partition moved between instances, or a warehouse
        file was lost). The group's offset was committed in the same Kafka transaction as the rows, so the
        rows published for a product of that partition are exactly those final given its records below it;
        `export_floors()` keeps them out of this warehouse's exports. Returns False (and records nothing)
        when this warehouse already holds the partition or a takeover of it. One transaction.
        """
        key = f"takeover:{topic}:{partition}"
        if (topic, partition) in self.committed_offsets() or self._meta(key) is not None:
            return False
        self._set_meta(key, int(group_offset))
        return True

    def export_floors(self) -> dict[str, int]:
        """product_id -> last second (epoch s) a previous owner of its partition already published.

        From the records landed below each takeover offset: max event time per product - lateness, the
        same rule as `final_ranges`. Folded incrementally (each landed record is read once) in one
        transaction, so the cost per batch does not grow with the warehouse.
        """
        con = self.con
        takeovers = con.execute(
            "SELECT key, value FROM ctl_meta WHERE key LIKE 'takeover:%' ORDER BY key").fetchall()
        if not takeovers:
            return {}
        landed = self.committed_offsets()
        try:
            con.execute("BEGIN TRANSACTION")
            for key, value in takeovers:
                topic, partition = key.split(":", 1)[1].rsplit(":", 1)
                upto = min(int(value), landed.get((topic, int(partition)), 0))
                scanned = int(self._meta(f"takeover_scanned:{topic}:{partition}", "0"))
                if upto <= scanned:
                    continue
                rows = con.execute(
                    "SELECT product_key, max(event_ns) FROM raw_frames WHERE topic = ? AND kafka_partition = ? "
                    "AND kafka_offset >= ? AND kafka_offset < ? AND event_ns IS NOT NULL "
                    "AND product_key <> '_control' GROUP BY product_key",
                    [topic, int(partition), scanned, upto]).fetchall()
                for product, max_ns in rows:
                    old = self._meta(f"takeover_max_ns:{product}")
                    if old is None or int(max_ns) > int(old):
                        self._set_meta(f"takeover_max_ns:{product}", int(max_ns))
                self._set_meta(f"takeover_scanned:{topic}:{partition}", upto)
            con.execute("COMMIT")
        except BaseException:
            _rollback(con)
            raise
        rows = con.execute(
            "SELECT substr(key, length('takeover_max_ns:') + 1), value FROM ctl_meta "
            "WHERE key LIKE 'takeover_max_ns:%'").fetchall()
        return {product: (int(max_ns) - self.lateness_ns - 1) // NS for product, max_ns in rows}

    def watermark_ns(self) -> int | None:
        """The lowest product watermark (max event time - lateness), or None before any data."""
        marks = [s.max_event_ns - self.lateness_ns for s in self.states.values() if s.max_event_ns is not None]
        return min(marks) if marks else None

    # ------------------------------------------------------------------ reading
    def features(self) -> pa.Table:
        """Every emitted feature row, sorted by (product_id, second_at): the replay output."""
        return self.con.sql(
            "SELECT * EXCLUDE (batch_id) FROM exp_features ORDER BY product_id, second_at").to_arrow_table()

    def labels(self) -> pa.Table:
        """The label view over the whole warehouse, sorted (sigma_future_bps NULL where not labelable)."""
        return self.con.sql("SELECT * FROM lbl_labels_1s ORDER BY product_id, second_at").to_arrow_table()

    def publish_snapshot(self, out_dir: str | None = None) -> int:
        """Publish new export batches as Parquet parts for `glue sql` (call after each commit; cheap)."""
        from glue.warehouse.snapshot import publish_snapshot

        return publish_snapshot(self, out_dir)

    def set_tau(self, tau_bps: float, product_id: str | None = None) -> None:
        """Supply tau (bps) for the label, per product or as the default (product_id None)."""
        self._set_threshold("cfg_label_tau", tau_bps, product_id)

    def set_k(self, k: float, product_id: str | None = None) -> None:
        """Supply k (a ratio) for the regime-relative label (SQL v5 on), per product or as the default."""
        tables = "SELECT count(*) FROM duckdb_tables() WHERE table_name = 'cfg_label_k'"
        if not self.con.execute(tables).fetchall()[0][0]:
            raise WarehouseError("this SQL version has no regime-relative label", "use SQL v5 or later")
        self._set_threshold("cfg_label_k", k, product_id)

    def _set_threshold(self, table: str, value: float, product_id: str | None) -> None:
        """One row per product (NULL = the default) of a label parameter table: replace it."""
        self.con.execute(f"DELETE FROM {table} WHERE product_id IS NOT DISTINCT FROM ?", [product_id])
        self.con.execute(f"INSERT INTO {table} VALUES (?, ?)", [product_id, float(value)])

def _merge(intervals: list[tuple[int, int]]) -> list[tuple[int, int]]:
    """Sorted closed integer intervals, overlapping or adjacent ones joined."""
    out: list[tuple[int, int]] = []
    for a, b in sorted(intervals):
        if out and a <= out[-1][1] + 1:
            out[-1] = (out[-1][0], max(out[-1][1], b))
        else:
            out.append((a, b))
    return out


def _intersect(x: list[tuple[int, int]], y: list[tuple[int, int]]) -> list[tuple[int, int]]:
    """The seconds in both merged interval lists, as merged intervals."""
    out, i, j = [], 0, 0
    while i < len(x) and j < len(y):
        a, b = max(x[i][0], y[j][0]), min(x[i][1], y[j][1])
        if a <= b:
            out.append((a, b))
        if x[i][1] < y[j][1]:
            i += 1
        else:
            j += 1
    return out


def _rollback(con: duckdb.DuckDBPyConnection) -> None:
    with contextlib.suppress(Exception):  # nothing to roll back if BEGIN itself failed
        con.execute("ROLLBACK")


def _apply(con: duckdb.DuckDBPyConnection, version: SqlVersion, lateness_s: int) -> None:
    """Apply the version's SQL (idempotent) and check that the file was built with the same SQL and lateness."""
    con.execute("CREATE TABLE IF NOT EXISTS ctl_meta (key VARCHAR PRIMARY KEY, value VARCHAR NOT NULL)")
    found = dict(con.execute("SELECT key, value FROM ctl_meta").fetchall())
    expected = {"sql_version": version.name, "sql_fingerprint": version.fingerprint, "lateness_s": str(lateness_s)}
    if "sql_version" in found:
        for key, want in expected.items():
            if found.get(key) != want:
                raise WarehouseError(
                    f"warehouse was built with {key}={found.get(key)}, this run has {want}",
                    "use a new warehouse file (or replay into one) for a different SQL version or lateness",
                )
    con.execute("BEGIN TRANSACTION")
    try:
        con.execute(version.script)
        for key, value in expected.items():
            con.execute("INSERT OR REPLACE INTO ctl_meta VALUES (?, ?)", [key, value])
        con.execute("COMMIT")
    except BaseException:
        _rollback(con)
        raise


def _frame_schema() -> pa.Schema:
    import pyarrow as pa

    return pa.schema([("land_seq", pa.int64()), ("product_key", pa.string()), ("kind", pa.string()),
                      ("recv_ns", pa.int64()), ("conn", pa.string()), ("iseq", pa.int64()),
                      ("payload", pa.string()), ("event_ns", pa.int64()), ("arrival_wm_ns", pa.int64()),
                      ("topic", pa.string()), ("kafka_partition", pa.int32()), ("kafka_offset", pa.int64())])


def _marker_schema() -> pa.Schema:
    import pyarrow as pa

    return pa.schema([("land_seq", pa.int64()), ("product_key", pa.string()), ("kind", pa.string()),
                      ("recv_ns", pa.int64()), ("conn", pa.string()), ("iseq", pa.int64()),
                      ("marker_type", pa.string()), ("payload", pa.string()), ("arrival_wm_ns", pa.int64()),
                      ("topic", pa.string()), ("kafka_partition", pa.int32()), ("kafka_offset", pa.int64())])
