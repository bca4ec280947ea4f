"""Benchmark of the live loop `glue featurize` (real broker, real DuckDB, real processes).

Prints:
* **latency** from a frame's receipt (`glue.recv_ns`, stamped when it is produced, paced in real time)
  to its feature row being visible (committed) in `ticks.features`, p50/p99. The floor is the grid
  plus the lateness rule: the row for second t is final only once a frame with event time
  > t + lateness_s arrives, so latency >= (t - event time) + lateness_s, i.e. 2-3 s with the defaults;
* **throughput**, frames/s of `glue featurize` over a backlog, and its **peak memory** (max RSS);
* **per-batch cost** of the live loop with a small and a large warehouse (rows already landed);
* with `--quiet-seconds S` (or `--only-quiet`): the latency of a **quiet product** (a frame every 15 s, clock
  markers every second as ingest writes them per heartbeat), SQL v4 and v3 (clocks finalize it) against v2
  (`--quiet-versions`).

Run: `.venv/bin/python -m bench.featurize [--bootstrap HOST:PORT] [--frames N] [--large-rows N]
[--quiet-seconds S | --only-quiet]`
(without --bootstrap it starts a throwaway local broker with docker/local-kafka and stops it after).
"""

from __future__ import annotations

import argparse
import json
import os
import re
import resource
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent
if str(REPO) not in sys.path:
    sys.path.insert(0, str(REPO))

from glue.net import free_port  # noqa: E402
from glue.records import KIND_FRAME, Record, format_rfc3339_ns  # noqa: E402
from glue.testing.featurize import PRODUCTS, produce, ticker_stream  # noqa: E402
from glue.testing.names import unique_name  # noqa: E402


def start_broker(home: Path) -> str:
    port, controller = free_port(), free_port()
    subprocess.run(
        [str(REPO / "docker" / "local-kafka"), "up", "--home", str(home), "--port", str(port),
         "--controller-port", str(controller), "--heap", "512m", "--timeout", "120", "--python", sys.executable],
        check=True, capture_output=True, text=True,
    )
    return f"127.0.0.1:{port}"


def stop_broker(home: Path) -> None:
    subprocess.run([str(REPO / "docker" / "local-kafka"), "down", "--home", str(home)], capture_output=True)


def featurize_cmd(bootstrap: str, topic_in: str, topic_out: str, work: Path, name: str, until_idle_s: float,
                  warehouse: Path | None = None) -> list[str]:
    return [
        sys.executable, "-m", "glue", "featurize", "--bootstrap", bootstrap, "--topic-in", topic_in,
        "--topic-out", topic_out, "--group", unique_name("bench"),
        "--warehouse", str(warehouse or work / f"{name}.duckdb"), "--parquet", str(work / f"{name}-parquet"),
        "--until-idle", str(until_idle_s), "--progress-interval", "2",
    ]


def featurize_env(dlq: str, **features: object) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("GLUE_TEST")}
    env.update({"GLUE_KAFKA__TOPIC_DLQ": dlq, "GLUE_FEATURES__SQL_DIR": str(REPO / "sql")})
    env.update({f"GLUE_FEATURES__{k.upper()}": str(v) for k, v in features.items()})
    return env


SUMMARY = re.compile(r"featurize: (\d+) frames .*?\(([\d.]+) ms/batch, p50 ([\d.]+) ms")


def run_featurize_process(cmd: list[str], env: dict[str, str], log: Path) -> dict[str, float]:
    """Run one `glue featurize` to completion; its summary, wall time and peak RSS (MB)."""
    before = resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss
    t0 = time.monotonic()
    with open(log, "wb") as fh:
        proc = subprocess.run(cmd, cwd=REPO, env=env, stdout=fh, stderr=subprocess.STDOUT, timeout=3600)
    wall = time.monotonic() - t0
    text = log.read_text()
    if proc.returncode != 0:
        raise SystemExit(f"glue featurize failed:\n{text[-3000:]}")
    peak_kb = resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss
    m = SUMMARY.findall(text)[-1]
    busy = re.findall(r"busy ([\d.]+) s", text)
    return {
        "frames": int(m[0]), "ms_per_batch": float(m[1]), "p50_ms_per_batch": float(m[2]), "wall_s": wall,
        "phases": re.findall(r"time per phase (.*)", text)[-1],
        "busy_s": float(busy[-1]) if busy else float("nan"),
        "peak_rss_mb": max(peak_kb, before) / 1024,
    }


def bench_throughput(bootstrap: str, work: Path, frames: int) -> dict[str, float]:
    per_second = 50
    seconds = max(10, frames // per_second)
    records = ticker_stream(seconds, seed=1, per_second=per_second)
    topic_in, topic_out = unique_name("bench-raw"), unique_name("bench-feat")
    produce(bootstrap, topic_in, records)
    cmd = featurize_cmd(bootstrap, topic_in, topic_out, work, "throughput", until_idle_s=3)
    out = run_featurize_process(cmd, featurize_env(unique_name("bench-dlq")), work / "throughput.log")
    out["cmd"] = " ".join(cmd[1:])
    return out


QUIET = "SOL-USD"  # the quiet product of the quiet-product run


def bench_latency(bootstrap: str, work: Path, seconds: float, rate_per_s: float, *, quiet_every_s: float = 0.0,
                  sql_version: str | None = None) -> dict[str, float]:
    """Produce frames paced in real time (event time = receipt time = now); time rows into ticks.features.

    With `quiet_every_s`, BTC-USD and ETH-USD share `rate_per_s` while QUIET sends one frame every
    `quiet_every_s` seconds, and a clock marker for all three goes out every second (what ingest writes per
    heartbeat): the quiet product's latency shows whether clocks finalize it (SQL v3) or not (v2).
    """
    from confluent_kafka import Consumer, Producer

    from glue.config import KafkaSettings
    from glue.kafka import consumer_config, ensure_topics, producer_config
    from glue.records import KIND_MARKER, MARKER_CLOCK

    ks = KafkaSettings(bootstrap_servers=bootstrap)
    name = f"quiet-{sql_version or 'current'}" if quiet_every_s else "latency"
    topic_in, topic_out = unique_name(f"{name}-raw"), unique_name(f"{name}-feat")
    ensure_topics(ks, {topic_in: 6, topic_out: 6})
    cmd = featurize_cmd(bootstrap, topic_in, topic_out, work, name, until_idle_s=6)
    features = {"max_batch_frames": 500, **({"sql_version": sql_version} if sql_version else {})}
    log = open(work / f"{name}.log", "wb")  # noqa: SIM115 - closed after the process ends
    proc = subprocess.Popen(cmd, cwd=REPO, env=featurize_env(unique_name(f"{name}-dlq"), **features),
                            stdout=log, stderr=subprocess.STDOUT)
    seen: dict[tuple[str, str], int] = {}
    done = threading.Event()

    def read() -> None:
        consumer = Consumer(consumer_config(ks, unique_name("lat-read"), **{"fetch.wait.max.ms": 5}))
        consumer.subscribe([topic_out])
        while not done.is_set():
            for m in consumer.consume(1000, 0.05):
                if m.error() is None:
                    row = json.loads(m.value())
                    seen.setdefault((row["product_id"], row["second_at"]), time.time_ns())
        consumer.close()

    reader = threading.Thread(target=read, daemon=True)
    reader.start()
    time.sleep(3.0)  # featurize joins its group
    producer = Producer(producer_config(ks, linger_ms=0))
    busy = PRODUCTS[:2] if quiet_every_s else PRODUCTS
    sent: list[tuple[str, int, int]] = []
    interval = 1.0 / rate_per_s
    start = time.monotonic()
    next_quiet = next_clock = start
    i = 0
    while time.monotonic() - start < seconds:
        now = time.time_ns()
        due = [busy[i % len(busy)]]
        if quiet_every_s and time.monotonic() >= next_quiet:
            due.append(QUIET)
            next_quiet += quiet_every_s
        for product in due:
            px = 100.0 + (i % 17) * 0.01
            frame = json.dumps({
                "channel": "ticker", "timestamp": format_rfc3339_ns(now), "sequence_num": i,
                "events": [{"type": "update", "tickers": [{
                    "type": "ticker", "product_id": product, "price": f"{px:.2f}",
                    "best_bid": f"{px - 0.01:.2f}", "best_bid_quantity": "1.0",
                    "best_ask": f"{px + 0.01:.2f}", "best_ask_quantity": "2.0"}]}],
            }, separators=(",", ":"))
            rec = Record(kind=KIND_FRAME, recv_ns=now, conn="bench", iseq=i, frame=frame)
            producer.produce(topic_in, key=product.encode(), value=rec.kafka_value(), headers=rec.kafka_headers(i))
            sent.append((product, now, now))
            i += 1
        if quiet_every_s and time.monotonic() >= next_clock:
            products = [*busy, QUIET]
            clock = Record(kind=KIND_MARKER, recv_ns=now, conn="bench", iseq=i,
                           marker={"type": MARKER_CLOCK, "products": products, "at_ns": now})
            for product in products:  # one record per product key, as ingest's fan-out writes it
                producer.produce(topic_in, key=product.encode(), value=clock.kafka_value(),
                                 headers=clock.kafka_headers(i))
            next_clock += 1.0
            i += 1
        producer.poll(0)
        time.sleep(max(0.0, start + i * interval - time.monotonic()))
    producer.flush(10)
    proc.wait(timeout=120)
    log.close()
    done.set()
    reader.join(10)
    by_class: dict[str, list[float]] = {"busy": [], "quiet": []}
    for product, event_ns, recv_ns in sent:
        second = -(-event_ns // 1_000_000_000)
        key = (product, format_rfc3339_ns(second * 1_000_000_000))
        if key in seen:
            by_class["quiet" if product == QUIET and quiet_every_s else "busy"].append((seen[key] - recv_ns) / 1e6)
    if not by_class["busy"]:
        raise SystemExit(f"no feature rows seen; see {work / f'{name}.log'}")
    out: dict[str, float] = {"frames": len(sent), "cmd": " ".join(cmd[1:])}
    for cls, lat in by_class.items():
        lat.sort()
        out[f"{cls}_frames"] = sum(1 for p, _, _ in sent if (p == QUIET and bool(quiet_every_s)) == (cls == "quiet"))
        out[f"{cls}_with_row"] = len(lat)
        out[f"{cls}_p50_ms"] = lat[len(lat) // 2] if lat else float("nan")
        out[f"{cls}_p99_ms"] = lat[min(len(lat) - 1, int(0.99 * len(lat)))] if lat else float("nan")
    out.update(frames_with_row=out["busy_with_row"], p50_ms=out["busy_p50_ms"], p99_ms=out["busy_p99_ms"])
    return out


def prefill(warehouse: Path, frames: int, start_ns: int) -> int:
    """Land `frames` ticker frames (and finalize them) straight into a warehouse; returns the next event time."""
    from glue.config import FeatureSettings
    from glue.records import parse_rfc3339_ns
    from glue.warehouse import Warehouse

    fs = FeatureSettings(sql_dir=str(REPO / "sql"))
    chunk = 100_000
    wh = Warehouse.open(str(warehouse), fs)
    landed, t = 0, start_ns
    try:
        while landed < frames:
            want = min(chunk, frames - landed)
            records = ticker_stream(want // 50 + 2, seed=landed, per_second=50, start_ns=t)[:want]
            # coords=None (replay mode): history without Kafka offsets, so the live topic's offsets stand alone.
            wh.land(records, None)
            wh.finalize()
            for batch in wh.pending_exports():
                wh.mark_exported(batch.batch_id)
            landed += len(records)
            t = parse_rfc3339_ns(json.loads(records[-1].frame)["timestamp"]) + 1
    finally:
        wh.close()
    return t


def bench_batch_cost(bootstrap: str, work: Path, sizes: list[int], live_frames: int, repeats: int = 2) -> dict:
    """Median per-batch cost of the live loop on copies of prefilled warehouses, runs interleaved (noise)."""
    import shutil

    from glue.testing.featurize import START_NS

    filled = {}
    for rows in sizes:
        path = work / f"prefill-{rows}.duckdb"
        t0 = time.monotonic()
        end_ns = prefill(path, rows, START_NS)
        filled[rows] = (path, end_ns, time.monotonic() - t0, path.stat().st_size / 1e6)
    results: dict[int, list[dict]] = {rows: [] for rows in sizes}
    for r in range(repeats):
        for rows in sizes if r % 2 == 0 else list(reversed(sizes)):
            path, end_ns, _, _ = filled[rows]
            copy = work / f"live-{rows}-{r}.duckdb"
            shutil.copy(path, copy)
            records = ticker_stream(max(10, live_frames // 50), seed=99, per_second=50, start_ns=end_ns)
            topic_in, topic_out = unique_name("cost-raw"), unique_name("cost-feat")
            produce(bootstrap, topic_in, records)
            cmd = featurize_cmd(bootstrap, topic_in, topic_out, work, f"cost-{rows}-{r}", until_idle_s=3,
                                warehouse=copy)
            out = run_featurize_process(cmd, featurize_env(unique_name("cost-dlq"), max_batch_frames=200),
                                        work / f"cost-{rows}-{r}.log")
            out["cmd"] = " ".join(cmd[1:])
            results[rows].append(out)
            copy.unlink()
    return {rows: {"prefill_s": filled[rows][2], "file_mb": filled[rows][3],
                   "p50_ms": statistics.median(o["p50_ms_per_batch"] for o in results[rows]),
                   "mean_ms": statistics.median(o["ms_per_batch"] for o in results[rows]),
                   "peak_rss_mb": max(o["peak_rss_mb"] for o in results[rows]),
                   "phases": results[rows][0]["phases"], "cmd": results[rows][0]["cmd"]} for rows in sizes}


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(prog="python -m bench.featurize", description=__doc__.split("\n")[0])
    parser.add_argument("--bootstrap", help="an already running broker (default: start a throwaway one)")
    parser.add_argument("--frames", type=int, default=100_000, help="backlog size for throughput")
    parser.add_argument("--latency-seconds", type=float, default=30.0)
    parser.add_argument("--rate", type=float, default=200.0, help="live frames/s for the latency run")
    parser.add_argument("--small-rows", type=int, default=10_000)
    parser.add_argument("--large-rows", type=int, default=1_000_000)
    parser.add_argument("--live-frames", type=int, default=10_000, help="frames per per-batch-cost run")
    parser.add_argument("--quiet-seconds", type=float, default=0.0,
                        help="also run the quiet-product latency (--quiet-versions) for this long (0: skip)")
    parser.add_argument("--quiet-every", type=float, default=15.0, help="the quiet product's seconds between frames")
    parser.add_argument("--only-quiet", action="store_true", help="run only the quiet-product latency")
    parser.add_argument("--quiet-versions", default="v4,v2",
                        help="SQL versions to compare on the quiet product (v3 on count clock markers)")
    args = parser.parse_args(argv)
    work = Path(tempfile.mkdtemp(prefix="bench-featurize-"))
    home = work / "kafka"
    bootstrap = args.bootstrap or start_broker(home)
    try:
        print(f"work dir {work}; broker {bootstrap}", flush=True)
        if args.quiet_seconds or args.only_quiet:
            for version in args.quiet_versions.split(","):
                q = bench_latency(bootstrap, work, args.quiet_seconds or 60.0, args.rate,
                                  quiet_every_s=args.quiet_every, sql_version=version)
                print(f"quiet product ({QUIET}: a frame every {args.quiet_every:g} s, clock markers every 1 s), "
                      f"SQL {version}: recv -> committed row p50 {q['quiet_p50_ms']:.0f} ms, p99 "
                      f"{q['quiet_p99_ms']:.0f} ms, {q['quiet_with_row']}/{q['quiet_frames']} frames with a row; "
                      f"busy products p50 {q['busy_p50_ms']:.0f} ms, p99 {q['busy_p99_ms']:.0f} ms", flush=True)
            if args.only_quiet:
                return
        thr = bench_throughput(bootstrap, work, args.frames)
        rate = thr["frames"] / thr["busy_s"] if thr["busy_s"] == thr["busy_s"] else float("nan")
        print(f"throughput: {thr['frames']} frames in {thr['busy_s']:.2f} s busy ({rate:,.0f} frames/s), "
              f"{thr['ms_per_batch']:.1f} ms/batch, wall {thr['wall_s']:.1f} s, peak RSS {thr['peak_rss_mb']:.0f} MB"
              f"\n  command: glue {thr['cmd'].split(' ', 2)[2]}", flush=True)
        lat = bench_latency(bootstrap, work, args.latency_seconds, args.rate)
        print(f"latency recv -> committed in ticks.features: p50 {lat['p50_ms']:.0f} ms, p99 {lat['p99_ms']:.0f} ms "
              f"over {lat['frames_with_row']}/{lat['frames']} frames at {args.rate:.0f} frames/s "
              f"(floor: ceil to the 1 s grid + lateness_s = 2 s)", flush=True)
        costs = bench_batch_cost(bootstrap, work, [args.small_rows, args.large_rows], live_frames=args.live_frames)
        for rows, c in costs.items():
            print(f"per-batch cost, {rows:,} frames already in the warehouse ({c['file_mb']:.0f} MB, prefill "
                  f"{c['prefill_s']:.0f} s): p50 {c['p50_ms']:.0f} ms/batch, mean {c['mean_ms']:.0f} ms/batch "
                  f"(200 frames/batch), peak RSS {c['peak_rss_mb']:.0f} MB; seconds per phase {c['phases']}",
                  flush=True)
        small, large = (costs[r]["p50_ms"] for r in (args.small_rows, args.large_rows))
        print(f"per-batch cost ratio large/small (p50): {large / small:.2f} (target <= 1.5)")
    finally:
        if not args.bootstrap:
            stop_broker(home)


if __name__ == "__main__":
    main(sys.argv[1:])
