"""Benchmark `glue score`: latency from a feature row arriving to its prediction acknowledged in Kafka.

Real broker (docker/local-kafka on free ports, or `--bootstrap HOST:PORT`), real model (trained in a
few seconds through glue.modeling on synthetic features and written as a real artifacts directory).
A producer publishes feature rows the way featurize does (a batch per second per product set, here
every 100 ms for many products), `run_score` scores them in a thread, and a reader consumes the
predictions. Printed:

* score-internal: row received by the scorer -> prediction acknowledged by the broker (p50/p99/max);
* end to end: feature row produced -> prediction read back by another consumer (an upper bound:
  it adds a second fetch round trip);
* throughput on a backlog (rows/s);
* a same-run reference: the model's own predict call alone (`score_matrix` on a batch of the same
  rows, as `glue score` calls it), p50/p99, and the ratio of the score-internal p99 to it
  (target: <= 3x), so the figure means the same on a slow or busy host.

    .venv/bin/python -m bench.score [--seconds 20] [--products 20] [--bootstrap 127.0.0.1:9092]
        [--model logreg|forecast]
"""

from __future__ import annotations

import argparse
import json
import shutil
import signal
import subprocess
import sys
import tempfile
import time
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent




def _rows(products: int, second: int, emitted_ns: int, template: dict) -> list[tuple[bytes, bytes]]:
    out = []
    for i in range(products):
        row = dict(template)
        row["product_id"] = f"P{i:03d}-USD"
        row["second_at"] = time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime(1767225600 + second))
        row["emitted_at"] = emitted_ns
        out.append((row["product_id"].encode(), json.dumps(row).encode()))
    return out


def _pct(values: list[float], q: float) -> float:
    from glue.score import percentile

    return percentile(values, q)


def run(bootstrap: str, seconds: float, products: int, work: Path, model: str = "logreg") -> None:
    from confluent_kafka import Consumer, Producer

    from glue import kafka
    from glue.config import Settings
    from glue.score import ScoreJob, run_score
    from glue.testing.models import feature_messages, features_frame, train_artifacts

    t0 = time.monotonic()
    artifacts = train_artifacts(work / "artifacts", seconds=1800, model=model)
    print(f"{model} model trained through glue.modeling in {time.monotonic() - t0:.1f}s -> {artifacts}")
    tag = str(time.time_ns())
    settings = Settings().replace({
        "kafka.bootstrap_servers": bootstrap,
        "kafka.topic_features": f"bench-features-{tag}",
        "kafka.topic_predictions": f"bench-predictions-{tag}",
        "kafka.topic_dlq": f"bench-dlq-{tag}",
    })
    ks = settings.kafka
    kafka.ensure_topics(ks, [ks.topic_features, ks.topic_predictions, ks.topic_dlq])
    # A realistic row (real feature columns and values) as the template for every product.
    template = json.loads(feature_messages(features_frame(seconds=400).iloc[[700]])[0][1])

    # The scorer runs as the real command in its own process (as in production: no GIL shared with
    # this load generator); its final line carries its own latency percentiles.
    scorer = subprocess.Popen(
        [sys.executable, "-m", "glue", "--log-level", "WARNING", "score", "--bootstrap", bootstrap,
         "--topic-in", ks.topic_features, "--topic-out", ks.topic_predictions, "--model", str(artifacts),
         "--group", f"bench-score-{tag}"],
        stdout=subprocess.PIPE, stderr=subprocess.DEVNULL, text=True,
    )
    reader = Consumer(kafka.consumer_config(ks, f"bench-read-{tag}", **{"auto.offset.reset": "earliest",
                                                                       "fetch.wait.max.ms": 10}))
    reader.subscribe([ks.topic_predictions])
    producer = Producer(kafka.producer_config(ks, **{"linger.ms": 0}))
    e2e_ms: list[float] = []
    sent = 0

    def drain(timeout: float) -> None:
        for m in reader.consume(1000, timeout):
            if m.error() is None:
                v = json.loads(m.value())
                e2e_ms.append((time.time_ns() - v["feature_emitted_at"]) / 1e6)

    time.sleep(8)  # let the scorer load the model and join its group before timing
    end = time.monotonic() + seconds
    second = 0
    while time.monotonic() < end:
        tick = time.monotonic()
        for key, value in _rows(products, second, time.time_ns(), template):
            producer.produce(ks.topic_features, key=key, value=value)
        producer.flush(10)
        sent += products
        second += 1
        while time.monotonic() < tick + 0.1:
            drain(0.01)
    deadline = time.monotonic() + 15
    while len(e2e_ms) < sent and time.monotonic() < deadline:
        drain(0.2)
    scorer.send_signal(signal.SIGTERM)  # a clean stop: it commits and prints its summary line
    out, _ = scorer.communicate(timeout=60)
    print(f"steady load: {sent} rows ({products} products every 100 ms, {sent / seconds:.0f} rows/s) "
          f"for {seconds:.0f}s, scored by `glue score` in its own process")
    print(f"  score-internal (row received -> prediction acked): {out.strip().split('latency ')[-1]}")
    print(f"  end to end (row produced -> prediction read back): p50 {_pct(e2e_ms, 50):.2f} ms, "
          f"p99 {_pct(e2e_ms, 99):.2f} ms ({len(e2e_ms)} of {sent} read)")

    # Throughput on a backlog: 20,000 rows already in the topic, one fresh group.
    backlog = [kv for s in range(20000 // products) for kv in _rows(products, 100000 + s, time.time_ns(), template)]
    for key, value in backlog:
        producer.produce(ks.topic_features, key=key, value=value)
        producer.poll(0)
    producer.flush(30)
    t = time.monotonic()
    s2 = run_score(settings, ScoreJob(model_source=str(artifacts), group_id=f"bench-backlog-{tag}",
                                      max_rows=sent + len(backlog), idle_exit_s=10, progress_interval_s=3600))
    took = time.monotonic() - t
    print(f"backlog: {s2.predicted} rows scored in {took:.1f}s = {s2.predicted / took:.0f} rows/s (incl. start-up)")
    reader.close()
    bare = bare_predict_ms(artifacts, settings, template, products, calls=max(200, int(seconds * 10)))
    internal_p99 = float(out.strip().split(" p99 ")[-1].split(" ms")[0])
    ratio = internal_p99 / bare["p99"] if bare["p99"] > 0 else float("inf")
    print(f"same-run reference: the model's predict call alone on {products} rows: p50 {bare['p50']:.2f} ms, "
          f"p99 {bare['p99']:.2f} ms ({bare['calls']} calls)")
    print(f"ratio: score-internal p99 {internal_p99:.1f} ms = {ratio:.1f}x the bare predict p99 "
          f"(target <= 3x: {'met' if ratio <= 3 else 'MISSED'})")


def bare_predict_ms(artifacts: Path, settings, template: dict, products: int, calls: int) -> dict[str, float]:
    """The model's predict call alone, as glue score makes it (one call per batch of `products` rows)."""
    from glue.score import load_model, model_info, score_rows

    scorer = load_model(str(artifacts), settings)
    info = model_info(scorer)
    rows = [dict(template, product_id=f"P{i:03d}-USD") for i in range(products)]
    score_rows(scorer, rows, info)  # warm-up
    times = []
    for _ in range(calls):
        t = time.perf_counter()
        score_rows(scorer, rows, info)
        times.append((time.perf_counter() - t) * 1000)
    return {"p50": _pct(times, 50), "p99": _pct(times, 99), "calls": calls}


def main(argv: list[str]) -> None:
    parser = argparse.ArgumentParser(prog="bench.score", description=__doc__.splitlines()[0])
    parser.add_argument("--seconds", type=float, default=20.0)
    parser.add_argument("--products", type=int, default=20)
    parser.add_argument("--bootstrap", default=None, help="use this running broker instead of starting one")
    parser.add_argument("--model", choices=("logreg", "forecast"), default="logreg",
                        help="the model scored (forecast: reads each row's tau after the features)")
    args = parser.parse_args(argv)
    sys.path.insert(0, str(REPO))
    import logging

    from glue.testing.processes import start_broker, stop_broker

    logging.basicConfig(level=logging.WARNING)
    work = Path(tempfile.mkdtemp(prefix="bench-score-"))
    home = work / "kafka"
    try:
        bootstrap = args.bootstrap or start_broker(home)
        print(f"broker {bootstrap}")
        run(bootstrap, args.seconds, args.products, work, args.model)
    finally:
        if not args.bootstrap:
            stop_broker(home)
        shutil.rmtree(work, ignore_errors=True)


if __name__ == "__main__":
    main(sys.argv[1:])
