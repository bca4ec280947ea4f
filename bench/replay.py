"""Benchmarks of the warehouse engine: replay throughput, per-batch finalize cost vs history, peak memory.

Prints:
* **replay throughput** (ticks/s) of `glue.replay.replay` on a large simulated stream (written as an
  archive file first, then read, landed and finalized), with the land / finalize split, at the SQL version
  chosen (`--sql-version`, default the manifest's current one; `v1` lands in Python, chunk by chunk);
* the **parse floor**: DuckDB reading the same archive and extracting the landing fields, nothing else,
  then the same typed into one table (what no landing of this file format can beat on this machine),
  pyarrow's JSON reader on the same lines for comparison, and the landing floor plus the measured finalize:
  the most any replay of this archive format could reach here;
* the same on every real capture in ../shared/data/coinbase (imported with glue import first);
* **per-batch cost** of land + finalize for a 1,000-frame micro-batch on a warehouse already holding
  `--small` vs `--large` landed frames (history built in bulk with SQL, then finalized by the engine;
  `--level2`: every other frame of history and batches an l2_data update, so SQL v4's book works each step);
* **peak memory** (max RSS) of the process after each part.

Run: `.venv/bin/python -m bench.replay [--ticks 300000] [--small 10000] [--large 10000000] [--skip-captures]
[--sql-version v1]`
"""

from __future__ import annotations

import argparse
import resource
import statistics
import sys
import tempfile
import time
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent
if str(REPO) not in sys.path:
    sys.path.insert(0, str(REPO))

from glue.config import FeatureSettings  # noqa: E402
from glue.records import format_rfc3339_ns  # noqa: E402
from glue.testing import fixtures as fx  # noqa: E402
from glue.warehouse import Warehouse  # noqa: E402

START_NS = 1_767_225_600 * 10**9


def peak_mb() -> float:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


def write_simulated_archive(ticks: int, path: Path) -> None:
    t0 = time.perf_counter()
    with path.open("w") as fh:
        for rec in fx.simulate_ticker_stream(ticks, seed=7, mean_gap_ms=40):
            fh.write(rec.to_archive_line() + "\n")
    print(f"simulated day: wrote {ticks:,} ticker frames ({path.stat().st_size / 1e6:,.0f} MB) in "
          f"{time.perf_counter() - t0:.1f} s")


def features_settings(sql_version: str) -> FeatureSettings:
    return FeatureSettings(sql_version=sql_version) if sql_version else FeatureSettings()


def bench_simulated(path: Path, tmp: Path, *, sql_version: str = "", chunk: int = 100_000, split: bool = True,
                    floor_s: float | None = None) -> None:
    from glue.replay import replay
    from glue.warehouse.manifest import load_version

    settings = features_settings(sql_version)
    version = load_version(settings.sql_dir, settings.sql_version).name
    spill = tmp / "spill"
    spill.mkdir(exist_ok=True)
    c0 = time.process_time()
    # as `glue replay` does by default: an in-memory warehouse that may spill to a temporary directory
    _, stats = replay([str(path)], str(tmp / "sim.parquet"), settings, warehouse=":memory:", spill_dir=str(spill),
                      chunk_records=chunk, progress_interval_s=1e9)
    cpu_s = time.process_time() - c0
    print(f"simulated replay, SQL {version} (v1 lands in chunks of {chunk:,}): {stats.records:,} ticks, "
          f"{stats.rows:,} feature rows in {stats.seconds:.2f} s = {stats.records / stats.seconds:,.0f} ticks/s wall, "
          f"{stats.records / cpu_s:,.0f} ticks/s per CPU-second   peak RSS {peak_mb():,.0f} MB")
    if not split:
        return
    with Warehouse.open(":memory:", settings) as wh:
        c0, t0 = time.process_time(), time.perf_counter()
        if wh.version.landing == "sql":
            wh.land_archives([str(path)])
            how = "DuckDB read + landing SQL"
        else:
            from glue.records import read_archive

            wh.land(list(read_archive([str(path)])))
            how = "Python"
        c1, t1 = time.process_time(), time.perf_counter()
        wh.finalize()
        c2, t2 = time.process_time(), time.perf_counter()
        n = wh.stats.records
    print(f"  one shot: land {t1 - t0:.2f} s wall / {c1 - c0:.2f} s CPU ({n / (t1 - t0):,.0f} frames/s wall, {how}), "
          f"finalize {t2 - t1:.2f} s wall / {c2 - c1:.2f} s CPU ({n / (t2 - t1):,.0f} ticks/s wall, SQL)")
    if floor_s is not None:
        # the landing floor plus this finalize: what replay could reach if landing checked nothing
        bound = n / (floor_s + t2 - t1)
        print(f"  upper bound, landing floor + this finalize (no fixed costs): {floor_s + t2 - t1:.2f} s = "
              f"{bound:,.0f} ticks/s wall")


_FLOOR_FIELDS = ("$.channel", "$.timestamp", "$.sequence_num", "$.events[0].tickers[0].product_id",
                 "$.events[0].tickers[0].price", "$.events[0].tickers[0].best_bid", "$.events[0].tickers[0].best_ask",
                 "$.events[0].tickers[0].best_bid_quantity", "$.events[0].tickers[0].best_ask_quantity")


def _timed(label: str, n: int, run) -> float:
    c0, t0 = time.process_time(), time.perf_counter()
    run()
    wall, cpu = time.perf_counter() - t0, time.process_time() - c0
    print(f"  {label}: {wall:.2f} s wall / {cpu:.2f} CPU-s = {n / wall:,.0f} frames/s wall")
    return wall


def bench_parse_floor(path: Path, n: int) -> float:
    """What no landing of this file format can beat here: reading it, and typing 9 fields into one table.

    Returns the wall time of the second, the least any DuckDB landing of these frames costs (it checks
    nothing, dead-letters nothing, keeps no frame text and fans out no multi-ticker frame).
    """
    import duckdb
    import pyarrow as pa
    import pyarrow.json as pj

    paths = ", ".join(f"'{p}'" for p in _FLOOR_FIELDS)
    columns = "{'recv_ns': 'BIGINT', 'kind': 'VARCHAR', 'frame': 'VARCHAR'}"
    extract = (f"SELECT recv_ns, json_extract_string(frame, [{paths}]) AS j "
               f"FROM read_ndjson('{path}', columns = {columns})")
    e8 = "j[{}]::DECIMAL(18, 8)"  # as the landing stores them
    typed = ("CREATE TABLE floor AS SELECT recv_ns, j[1] AS channel, j[2]::TIMESTAMPTZ AS event_at, "
             "j[3]::BIGINT AS sequence_num, j[4] AS product_id, "
             + ", ".join(f"{e8.format(i)} AS f{i}" for i in range(5, 10)) + f" FROM ({extract})")
    print("parse floor (nothing checked, nothing fanned out):")
    con = duckdb.connect()
    _timed("DuckDB read_ndjson + one json_extract_string of 9 fields, nothing stored", n,
           lambda: con.execute(f"SELECT count(*) FROM ({extract}) WHERE j[2] IS NOT NULL").fetchall())
    floor = _timed("the same, typed (timestamp, DECIMAL(18, 8)) into one table", n, lambda: con.execute(typed))
    con.close()
    # pyarrow's own JSON reader, for comparison: the outer line only, the frame left as a string
    schema = pa.schema([("recv_ns", pa.int64()), ("frame", pa.string())])
    _timed("pyarrow.json.read_json of the archive lines (frame kept as text)", n,
           lambda: pj.read_json(path, parse_options=pj.ParseOptions(explicit_schema=schema,
                                                                     unexpected_field_behavior="ignore")))
    return floor


def bench_captures(tmp: Path) -> None:
    from glue.importer import import_captures
    from glue.replay import expand_paths, replay

    root = REPO.parent / "shared" / "data" / "coinbase"
    if not root.is_dir():
        print(f"captures: none at {root}")
        return
    total_ticks = total_s = 0.0
    for capture in sorted(p for p in root.iterdir() if p.is_dir()):
        out = tmp / "imported" / capture.name
        import_captures([str(capture)], str(out))
        _, stats = replay(expand_paths([str(out)]), None, FeatureSettings(), progress_interval_s=1e9)
        total_ticks += stats.records
        total_s += stats.seconds
        print(f"capture {capture.name}: {stats.records:,} records -> {stats.rows:,} rows in {stats.seconds:.2f} s "
              f"({stats.records / stats.seconds:,.0f}/s)")
    print(f"captures total: {total_ticks:,.0f} records in {total_s:.2f} s = {total_ticks / total_s:,.0f} records/s "
          f"(includes opening a warehouse per capture)   peak RSS {peak_mb():,.0f} MB")


def build_history(wh: Warehouse, n_frames: int, ticks_per_s: int = 20, level2: bool = False) -> int:
    """Land n_frames ticker frames for BTC-USD generated in SQL, then finalize them with the engine.

    `level2`: every other frame is an l2_data update of the best levels instead (the first a snapshot), so SQL
    v4's book has work in every step and a history of the same size.
    SQL-landing versions take the frames through the version's own landing macros (as `glue featurize` does);
    v1 gets its raw rows inserted directly. Steps of 1M frames keep memory bounded.
    """
    step_ns = 10**9 // ticks_per_s
    t0 = time.perf_counter()
    for lo in range(0, n_frames, 1_000_000):
        hi = min(lo + 1_000_000, n_frames)
        stamp = f"strftime(make_timestamp(({START_NS} + i * {step_ns}) // 1000), '%Y-%m-%dT%H:%M:%S.%fZ')"
        ticker = ("""'{"channel":"ticker","timestamp":"' || """ + stamp + """ || '","sequence_num":' || i ||
                   ',"events":[{"type":"update","tickers":[{"type":"ticker","product_id":"BTC-USD","price":"' ||
                   px || '","best_bid":"' || (px - 0.01) || '","best_ask":"' || (px + 0.01) ||
                   '","best_bid_quantity":"1.5","best_ask_quantity":"0.5"}]}]}'""")
        l2 = ("""'{"channel":"l2_data","timestamp":"' || """ + stamp + """ || '","sequence_num":' || i ||
                   ',"events":[{"type":"' || CASE WHEN i = 0 THEN 'snapshot' ELSE 'update' END ||
                   '","product_id":"BTC-USD","updates":[{"side":"bid","event_time":"x","price_level":"' ||
                   (prev_px - 0.01) || '","new_quantity":"0"},{"side":"offer","event_time":"x","price_level":"' ||
                   (prev_px + 0.01) || '","new_quantity":"0"},{"side":"bid","event_time":"x","price_level":"' ||
                   (px - 0.01) || '","new_quantity":"' || (1 + i % 5) || '"},{"side":"offer","event_time":"x",' ||
                   '"price_level":"' || (px + 0.01) || '","new_quantity":"' || (1 + i % 3) || '"}]}]}'""")
        frame = f"CASE WHEN {level2} AND i % 2 = 0 THEN {l2} ELSE {ticker} END" if level2 else ticker
        frames = f"""
            SELECT i, {START_NS} + i * {step_ns} + 1000000 AS recv_ns, {frame} AS frame
            FROM (SELECT i, round(60000 + 50 * sin(i / 1000.0) + (i % 7) * 0.01, 2)::DECIMAL(18, 2) AS px,
                         -- the previous l2 frame's price (two frames back): its levels are deleted (a real book)
                         round(60000 + 50 * sin((i - 2) / 1000.0) + ((i - 2) % 7) * 0.01, 2)::DECIMAL(18, 2)
                             AS prev_px
                  FROM range({lo}, {hi}) t(i))
        """
        if wh.version.landing == "sql":
            from glue.warehouse import sql_landing

            wh.con.execute("BEGIN TRANSACTION")
            wh.con.execute(f"""CREATE OR REPLACE TEMP VIEW raw_landing_input AS
                SELECT 'BTC-USD' AS kafka_key, 'frame' AS kind, recv_ns, 'bulk' AS conn, i AS iseq, frame,
                       NULL::VARCHAR AS marker, NULL::VARCHAR AS topic, NULL::INTEGER AS kafka_partition,
                       NULL::BIGINT AS kafka_offset
                FROM ({frames}) ORDER BY i""")
            wh._land_input(sql_landing.KafkaBook())
            wh.con.execute("COMMIT")
        else:
            wh.con.execute(f"""INSERT INTO raw_frames
                SELECT i, 'BTC-USD', 'frame', recv_ns, 'bulk', i, frame, {START_NS} + i * {step_ns},
                       {START_NS} + (i - 1) * {step_ns} - 2000000000, NULL, NULL, NULL
                FROM ({frames})""")
            wh.con.execute("INSERT OR REPLACE INTO ctl_meta VALUES ('next_land_seq', ?)", [str(hi)])
            wh.con.execute("INSERT OR REPLACE INTO ctl_products VALUES ('BTC-USD', ?, ?, ?)",
                           [START_NS + (hi - 1) * step_ns, START_NS,
                            wh.states["BTC-USD"].last_final_s if "BTC-USD" in wh.states else None])
            wh._load_state()
        wh.finalize()
    print(f"  history: {n_frames:,} frames landed and finalized in {time.perf_counter() - t0:.1f} s "
          f"({wh.con.sql('SELECT count(*) FROM int_grid_1s').fetchall()[0][0]:,} grid rows)")
    return START_NS + (n_frames - 1) * step_ns


def make_batch(t_ns: int, seq: int, batch_frames: int, level2: bool = False):
    recs = []
    for k in range(batch_frames):
        t_ns += 50_000_000
        seq += 1
        if level2 and k % 2 == 0:  # the book's top: sizes change, prices stay (levels stay bounded)
            recs.append(fx.l2("BTC-USD", t_ns, seq=seq, iseq=seq, bids=[("60000.00", str(1 + k % 5))],
                              asks=[("60000.02", str(1 + k % 3))]))
        else:
            recs.append(fx.ticker("BTC-USD", t_ns, "60000.00", "60000.02", seq=seq, iseq=seq))
    return recs, t_ns, seq


def per_batch_costs(sizes: list[int], tmp: Path, batches: int = 15, batch_frames: int = 1000,
                    sql_version: str = "", level2: bool = False) -> dict[int, float]:
    """Warehouses with each history size, then micro-batches interleaved across them (load drifts equally)."""
    whs, clocks, costs, cpu = {}, {}, {n: [] for n in sizes}, {n: 0.0 for n in sizes}
    for n in sizes:
        whs[n] = Warehouse.open(str(tmp / f"hist-{n}.duckdb"), features_settings(sql_version))
        clocks[n] = (build_history(whs[n], n, level2=level2), n)
        whs[n].con.execute("CHECKPOINT")
    try:
        for _ in range(batches):
            for n in sizes:
                recs, t_ns, seq = make_batch(*clocks[n], batch_frames, level2)
                clocks[n] = (t_ns, seq)
                c0, t0 = time.process_time(), time.perf_counter()
                whs[n].land(recs)
                rows = whs[n].finalize()
                costs[n].append(time.perf_counter() - t0)
                cpu[n] += time.process_time() - c0
                assert rows.num_rows > 0
    finally:
        for wh in whs.values():
            wh.close()
    out = {}
    for n in sizes:
        med = statistics.median(costs[n])
        out[n] = med
        print(f"per-batch cost, {n:,} frames already in the warehouse: median {med * 1000:.0f} ms wall, "
              f"p90 {sorted(costs[n])[int(0.9 * len(costs[n]))] * 1000:.0f} ms, "
              f"mean CPU {cpu[n] / batches * 1000:.0f} ms "
              f"({batches} batches of {batch_frames} frames: land + finalize)")
    print(f"  peak RSS {peak_mb():,.0f} MB")
    return out


def main(argv: list[str]) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--ticks", type=int, default=300_000)
    parser.add_argument("--small", type=int, default=10_000)
    parser.add_argument("--large", type=int, default=10_000_000)
    parser.add_argument("--skip-captures", action="store_true")
    parser.add_argument("--skip-simulated", action="store_true")
    parser.add_argument("--skip-batch-cost", action="store_true", help="skip the 10^4 vs 10^7 per-batch cost")
    parser.add_argument("--chunk", type=int, default=100_000, help="records per land+finalize step")
    parser.add_argument("--skip-split", action="store_true", help="skip the one-shot land/finalize split")
    parser.add_argument("--sql-version", default="", help="SQL version to replay with (default: the current one)")
    parser.add_argument("--level2", action="store_true",
                        help="per-batch cost with every other frame an l2_data update (SQL v4 keeps a book)")
    args = parser.parse_args(argv)
    with tempfile.TemporaryDirectory() as tmp_dir:
        tmp = Path(tmp_dir)
        if not args.skip_simulated:
            path = tmp / "sim.ndjson"
            write_simulated_archive(args.ticks, path)
            floor_s = bench_parse_floor(path, args.ticks)
            bench_simulated(path, tmp, sql_version=args.sql_version, chunk=args.chunk, split=not args.skip_split,
                            floor_s=floor_s)
            path.unlink()
        if not args.skip_captures:
            bench_captures(tmp)
        if args.skip_batch_cost:
            print(f"started {format_rfc3339_ns(time.time_ns())}; peak RSS {peak_mb():,.0f} MB")
            return
        cost = per_batch_costs([args.small, args.large], tmp, sql_version=args.sql_version, level2=args.level2)
        small, large = cost[args.small], cost[args.large]
        print(f"per-batch cost ratio {args.large:,} vs {args.small:,} frames of history: {large / small:.2f}x "
              "(target <= 1.5x)")
    print(f"started {format_rfc3339_ns(time.time_ns())}; peak RSS {peak_mb():,.0f} MB")


if __name__ == "__main__":
    main(sys.argv[1:])
