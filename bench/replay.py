"""Benchmarks of the warehouse engine: replay throughput, per-batch finalize cost vs history, peak memory.

Prints:
* **replay throughput** (ticks/s) of `glue.replay.replay` on a large simulated stream (written as an
  archive file first, then read, landed and finalized in chunks), with the land / finalize split;
* the same on every real capture in ../shared/data/coinbase (imported with glue import first);
* **per-batch cost** of land + finalize for a 1,000-frame micro-batch on a warehouse already holding
  `--small` vs `--large` landed frames (history built in bulk with SQL, then finalized by the engine);
* **peak memory** (max RSS) of the process after each part.

Run: `.venv/bin/python -m bench.replay [--ticks 300000] [--small 10000] [--large 10000000] [--skip-captures]`
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
from glue.warehouse import Warehouse  # noqa: E402
from glue.warehouse import fixtures as fx  # noqa: E402

START_NS = 1_767_225_600 * 10**9


def peak_mb() -> float:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


def bench_simulated(ticks: int, tmp: Path, *, chunk: int = 100_000, split: bool = True) -> None:
    from glue.replay import replay

    path = tmp / "sim.ndjson"
    t0 = time.perf_counter()
    with path.open("w") as fh:
        for rec in fx.simulate_ticker_stream(ticks, seed=7, mean_gap_ms=40):
            fh.write(rec.to_archive_line() + "\n")
    print(f"simulated day: wrote {ticks:,} ticker frames in {time.perf_counter() - t0:.1f} s")
    c0 = time.process_time()
    _, stats = replay([str(path)], str(tmp / "sim.parquet"), FeatureSettings(), chunk_records=chunk,
                      progress_interval_s=1e9)
    cpu_s = time.process_time() - c0
    print(f"simulated replay (chunk {chunk:,}): {stats.records:,} ticks, {stats.rows:,} feature rows in "
          f"{stats.seconds:.2f} s = {stats.records / stats.seconds:,.0f} ticks/s wall, "
          f"{stats.records / cpu_s:,.0f} ticks/s per CPU-second   peak RSS {peak_mb():,.0f} MB")
    if not split:
        return
    # the split: land (Python parse + insert) vs finalize (the SQL)
    from glue.records import read_archive

    records = list(read_archive([str(path)]))
    with Warehouse.open(":memory:", FeatureSettings()) as wh:
        c0, t0 = time.process_time(), time.perf_counter()
        wh.land(records)
        c1, t1 = time.process_time(), time.perf_counter()
        wh.finalize()
        c2, t2 = time.process_time(), time.perf_counter()
    n = len(records)
    print(f"  one shot: land {t1 - t0:.2f} s wall / {c1 - c0:.2f} s CPU ({n / (c1 - c0):,.0f} frames per CPU-s, "
          f"Python), finalize {t2 - t1:.2f} s wall / {c2 - c1:.2f} s CPU ({n / (c2 - c1):,.0f} ticks per CPU-s, SQL)")


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


def build_history(wh: Warehouse, n_frames: int, ticks_per_s: int = 20) -> int:
    """Land n_frames ticker frames for BTC-USD in bulk with SQL, then finalize them with the engine."""
    step_ns = 10**9 // ticks_per_s
    wh.con.execute(f"""
        INSERT INTO raw_frames
        SELECT i, 'BTC-USD', 'frame', {START_NS} + i * {step_ns} + 1000000, 'bulk', i,
               '{{"channel":"ticker","timestamp":"' || strftime(make_timestamp(({START_NS} + i * {step_ns}) // 1000),
                 '%Y-%m-%dT%H:%M:%S.%fZ') || '","sequence_num":' || i ||
               ',"events":[{{"type":"update","tickers":[{{"type":"ticker","product_id":"BTC-USD","price":"' ||
               px || '","best_bid":"' || (px - 0.01) || '","best_ask":"' || (px + 0.01) ||
               '","best_bid_quantity":"1.5","best_ask_quantity":"0.5"}}]}}]}}',
               {START_NS} + i * {step_ns}, {START_NS} + (i - 1) * {step_ns} - 2000000000, NULL, NULL, NULL
        FROM (SELECT i, round(60000 + 50 * sin(i / 1000.0) + (i % 7) * 0.01, 2)::DECIMAL(18, 2) AS px
              FROM range({n_frames}) t(i))
    """)
    last_ns = START_NS + (n_frames - 1) * step_ns
    wh.con.execute("INSERT OR REPLACE INTO ctl_meta VALUES ('next_land_seq', ?)", [str(n_frames)])
    t0 = time.perf_counter()
    # finalize the history in steps of 1M frames (memory stays bounded), as if it had arrived over time
    for upto in range(min(n_frames, 1_000_000), n_frames + 1_000_000, 1_000_000):
        upto_ns = START_NS + (min(upto, n_frames) - 1) * step_ns
        wh.con.execute("INSERT OR REPLACE INTO ctl_products VALUES ('BTC-USD', ?, ?, ?)",
                       [upto_ns, START_NS, wh.states["BTC-USD"].last_final_s if "BTC-USD" in wh.states else None])
        wh._load_state()
        wh.finalize()
        if upto >= n_frames:
            break
    print(f"  history: {n_frames:,} frames finalized in {time.perf_counter() - t0:.1f} s "
          f"({wh.con.sql('SELECT count(*) FROM int_grid_1s').fetchall()[0][0]:,} grid rows)")
    return last_ns


def make_batch(t_ns: int, seq: int, batch_frames: int):
    recs = []
    for _ in range(batch_frames):
        t_ns += 50_000_000
        seq += 1
        recs.append(fx.ticker("BTC-USD", t_ns, "60000.00", "60000.02", seq=seq, iseq=seq))
    return recs, t_ns, seq


def per_batch_costs(sizes: list[int], tmp: Path, batches: int = 15, batch_frames: int = 1000) -> dict[int, float]:
    """Warehouses with each history size, then micro-batches interleaved across them (load drifts equally)."""
    whs, clocks, costs, cpu = {}, {}, {n: [] for n in sizes}, {n: 0.0 for n in sizes}
    for n in sizes:
        whs[n] = Warehouse.open(str(tmp / f"hist-{n}.duckdb"), FeatureSettings())
        clocks[n] = (build_history(whs[n], n), n)
        whs[n].con.execute("CHECKPOINT")
    try:
        for _ in range(batches):
            for n in sizes:
                recs, t_ns, seq = make_batch(*clocks[n], batch_frames)
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
    args = parser.parse_args(argv)
    with tempfile.TemporaryDirectory() as tmp_dir:
        tmp = Path(tmp_dir)
        if not args.skip_simulated:
            bench_simulated(args.ticks, tmp, chunk=args.chunk, split=not args.skip_split)
        if not args.skip_captures:
            bench_captures(tmp)
        if args.skip_batch_cost:
            print(f"started {format_rfc3339_ns(time.time_ns())}; peak RSS {peak_mb():,.0f} MB")
            return
        cost = per_batch_costs([args.small, args.large], tmp)
        small, large = cost[args.small], cost[args.large]
        print(f"per-batch cost ratio {args.large:,} vs {args.small:,} frames of history: {large / small:.2f}x "
              "(target <= 1.5x)")
    print(f"started {format_rfc3339_ns(time.time_ns())}; peak RSS {peak_mb():,.0f} MB")


if __name__ == "__main__":
    main(sys.argv[1:])
