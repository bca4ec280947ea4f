"""Benchmark of `glue replay` on real captures: time, rows and peak memory follow the data, not the calendar?

Prints, each replay run in a child process of its own (peak RSS = that child's ru_maxrss, from os.wait4):
* the **dense simulated day** of bench.replay (`--ticks`, default 1.7 M ticker frames, written as one archive
  file), replayed as `glue replay` does (in memory, spilling to a temp directory): the reference of the run;
* the **mel-hsw capture** (../shared/data/coinbase/mel-hsw__cryptoproject-final, 73,663 ticks over six days):
  `glue replay --raw` of the original files (converted on the fly: "with import") and of the archive
  `glue import` wrote beforehand ("without import"; the import itself is timed apart);
* a **long input** made from it at run time in a temp directory (never kept): `--copies` (default 14) copies
  of the capture, copy k shifted by k x `--shift-days` (default 7) days: about 1 M ticks over 98 days.

Per run: ticks/s (frames landed / wall seconds of the child), feature rows written, the seconds that have a
feature row within a session (not inside a marked data_gap of the product, the markers being those the import
wrote), rows per such second, labelled rows (sigma_future_bps not NULL) and peak RSS; then the ratios the
issue's targets are stated in (rows per in-session second <= 1.2 and peak <= 300 MB on mel-hsw; long input
ticks/s >= 60 % of the dense day's, peak <= 500 MB).

Run: `nice .venv/bin/python -m bench.captures [--ticks 1700000] [--copies 14] [--shift-days 7] [--skip-dense]
[--skip-long] [--capture DIR]`
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import tempfile
import time
from datetime import datetime, timedelta
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent
if str(REPO) not in sys.path:
    sys.path.insert(0, str(REPO))

CAPTURE = REPO.parent / "shared" / "data" / "coinbase" / "mel-hsw__cryptoproject-final"


def child_replay(raw: list[str], out: str) -> None:
    """In the child: `glue replay` as the CLI runs it; prints the stats as one JSON line."""
    from glue.config import FeatureSettings
    from glue.replay import run_replay

    t0 = time.perf_counter()
    _, stats = run_replay(raw, out, FeatureSettings(), labels_out=str(Path(out).with_name("labels.parquet")),
                          progress_interval_s=1e9, keep_table=False)
    print(json.dumps({"records": stats.records, "frames": stats.frames, "rows": stats.rows,
                      "wall_s": time.perf_counter() - t0, "line": stats.line()}))


def run_child(raw: list[str], out: Path) -> dict:
    """Replay in a child process; returns its stats plus peak RSS (MB) and wall seconds."""
    out.parent.mkdir(parents=True, exist_ok=True)
    cmd = [sys.executable, "-m", "bench.captures", "--child", str(out), *raw]
    t0 = time.perf_counter()
    proc = subprocess.Popen(cmd, cwd=REPO, stdout=subprocess.PIPE, text=True)
    assert proc.stdout is not None
    text = proc.stdout.read()
    _, status, usage = os.wait4(proc.pid, 0)
    proc.returncode = os.waitstatus_to_exitcode(status)
    if proc.returncode != 0:
        raise SystemExit(f"child replay failed ({proc.returncode}): {' '.join(cmd)}")
    result = json.loads(text.strip().splitlines()[-1])
    result["peak_mb"] = usage.ru_maxrss / 1024
    result["child_s"] = time.perf_counter() - t0
    return result


def session_seconds(features: Path, archive_dir: Path) -> tuple[int, int]:
    """(rows within a session, labelled rows): rows whose second is not inside a data_gap marker's
    (from_ns, to_ns) of its product, and label rows with sigma_future_bps not NULL."""
    import duckdb

    gaps = []
    for path in sorted(archive_dir.rglob("*.ndjson")):
        with path.open() as fh:
            for line in fh:
                if '"kind":"marker"' not in line:
                    continue
                marker = json.loads(line)["marker"]
                if marker.get("type") == "data_gap":
                    gaps += [(p, int(marker["from_ns"]), int(marker["to_ns"])) for p in marker["products"]]
    con = duckdb.connect()
    con.execute("CREATE TABLE gaps (product_id VARCHAR, from_ns BIGINT, to_ns BIGINT)")
    if gaps:
        con.executemany("INSERT INTO gaps VALUES (?, ?, ?)", gaps)
    inside = con.execute(
        f"SELECT count(*) FROM read_parquet('{features}') AS f WHERE NOT EXISTS (SELECT 1 FROM gaps AS g "
        "WHERE g.product_id = f.product_id AND epoch_ns(f.second_at) > g.from_ns "
        "AND epoch_ns(f.second_at) + 1000000000 <= g.to_ns)").fetchall()[0][0]
    labelled = con.execute(f"SELECT count(*) FROM read_parquet('{features.with_name('labels.parquet')}') "
                           "WHERE sigma_future_bps IS NOT NULL").fetchall()[0][0]
    return int(inside), int(labelled)


def make_long_input(src: Path, dst: Path, copies: int, shift_days: int) -> int:
    """`copies` copies of the capture in its original format, copy k's naive receive times shifted by k x
    shift_days days (the files sort in time order); returns the number of lines written."""
    n = 0
    for k in range(copies):
        shift = timedelta(days=k * shift_days)
        folder = dst / f"copy{k:02d}"
        folder.mkdir(parents=True)
        for path in sorted(src.glob("*.ndjson")):
            with path.open() as fh, (folder / path.name).open("w") as out:
                for line in fh:
                    obj = json.loads(line)
                    obj["timestamp"] = (datetime.fromisoformat(obj["timestamp"]) + shift).isoformat()
                    out.write(json.dumps(obj) + "\n")
                    n += 1
    return n


def report(label: str, r: dict, archive_dir: Path | None) -> None:
    extra = ""
    if archive_dir is not None:
        inside, labelled = session_seconds(Path(r["out"]), archive_dir)
        r["in_session"], r["labelled"] = inside, labelled
        extra = (f", {inside:,} seconds with a feature row within a session -> {r['rows'] / max(inside, 1):.2f} "
                 f"rows per in-session second, {labelled:,} labelled rows")
    r["ticks_s"] = r["frames"] / r["wall_s"]
    print(f"{label}: {r['frames']:,} ticks in {r['wall_s']:.1f} s = {r['ticks_s']:,.0f} ticks/s, "
          f"{r['rows']:,} rows written{extra}; peak RSS {r['peak_mb']:,.0f} MB", flush=True)


def main(argv: list[str]) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--ticks", type=int, default=1_700_000, help="frames of the dense simulated day")
    parser.add_argument("--copies", type=int, default=14)
    parser.add_argument("--shift-days", type=int, default=7)
    parser.add_argument("--skip-dense", action="store_true")
    parser.add_argument("--skip-long", action="store_true")
    parser.add_argument("--capture", default=str(CAPTURE), help="the mel-hsw capture directory")
    parser.add_argument("--child", default=None, help=argparse.SUPPRESS)
    args, rest = parser.parse_known_args(argv)
    if args.child:
        child_replay(rest, args.child)
        return
    from glue.importer import import_captures

    capture = Path(args.capture)
    if not capture.is_dir():
        raise SystemExit(f"the mel-hsw capture is not at {capture} (--capture DIR)")
    results: dict[str, dict] = {}
    with tempfile.TemporaryDirectory(prefix="bench-captures-") as tmp_name:
        tmp = Path(tmp_name)
        if not args.skip_dense:
            from bench.replay import write_simulated_archive

            sim = tmp / "sim" / "day.ndjson"
            sim.parent.mkdir()
            write_simulated_archive(args.ticks, sim)
            r = results["dense"] = run_child([str(sim)], tmp / "out-dense" / "features.parquet")
            r["out"] = str(tmp / "out-dense" / "features.parquet")
            report("dense simulated day", r, None)
            sim.unlink()
        t0 = time.perf_counter()
        import_captures([str(capture)], str(tmp / "mel-imported"))
        import_s = time.perf_counter() - t0
        print(f"mel-hsw: glue import {import_s:.1f} s", flush=True)
        for key, raw in (("mel", [str(tmp / "mel-imported")]), ("mel+import", [str(capture)])):
            out = tmp / f"out-{key}" / "features.parquet"
            r = results[key] = run_child(raw, out)
            r["out"] = str(out)
            report(f"mel-hsw, {'with' if '+' in key else 'without'} import", r, tmp / "mel-imported")
        if not args.skip_long:
            lines = make_long_input(capture, tmp / "long", args.copies, args.shift_days)
            print(f"long input: {args.copies} copies x {args.shift_days} days, {lines:,} lines", flush=True)
            t0 = time.perf_counter()
            import_captures([str(tmp / "long")], str(tmp / "long-imported"))
            print(f"long input: glue import {time.perf_counter() - t0:.1f} s", flush=True)
            for key, raw in (("long", [str(tmp / "long-imported")]), ("long+import", [str(tmp / "long")])):
                out = tmp / f"out-{key}" / "features.parquet"
                r = results[key] = run_child(raw, out)
                r["out"] = str(out)
                report(f"long input, {'with' if '+' in key else 'without'} import", r, tmp / "long-imported")
    print("targets (issue 16):")
    mel = results["mel"]
    print(f"  mel-hsw rows per in-session second {mel['rows'] / max(mel['in_session'], 1):.2f} (target <= 1.2), "
          f"peak {max(mel['peak_mb'], results['mel+import']['peak_mb']):,.0f} MB (target <= 300)")
    if "long" in results:
        long = results["long"]
        if "dense" in results:
            print(f"  long input ticks/s {long['ticks_s']:,.0f} = {long['ticks_s'] / results['dense']['ticks_s']:.0%} "
                  f"of the dense day's {results['dense']['ticks_s']:,.0f} (target >= 60 %)")
        print(f"  long input peak {max(long['peak_mb'], results['long+import']['peak_mb']):,.0f} MB "
              "(target <= 500)")
        print(f"  per tick vs mel-hsw: time {mel['ticks_s'] / long['ticks_s']:.2f}x, memory "
              f"{long['peak_mb'] / mel['peak_mb']:.2f}x (target <= 1.2x each)")


if __name__ == "__main__":
    main(sys.argv[1:])
