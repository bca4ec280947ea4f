"""Benchmark the live view: a prediction acknowledged by Kafka -> its value drawn on the page, and the
page server's CPU.

Real broker (docker/local-kafka on free ports, or `--bootstrap HOST:PORT`), `glue view` as its own
process, Debian's chromium under playwright looking at it. A producer plays featurize and score for
`--products` products at `--rate` updates/s each (one feature row, one prediction and one raw frame per
update), recording when the broker acknowledged each prediction; the page stamps each prediction when
its values are in the DOM (`window.__view.seen`). Same machine, same wall clock. Printed:

* ack -> on the page: p50 / p99 / max in ms, and how many predictions never showed;
* `glue view` CPU: process CPU seconds per wall second over the measured window (100 % = one core),
  and its resident memory at the end.

    .venv/bin/python -m bench.view [--seconds 30] [--products 4] [--rate 10] [--bootstrap 127.0.0.1:9092]
"""

from __future__ import annotations

import argparse
import json
import shutil
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path

import yaml

REPO = Path(__file__).resolve().parent.parent
CHROMIUM = "/usr/bin/chromium"
FLAGS = ["--no-sandbox", "--disable-gpu", "--disable-background-networking", "--disable-component-update",
         "--disable-sync", "--no-first-run", "--disable-quic"]




def _rss_mb(pid: int) -> float:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1]) / 1024
    return 0.0


def _iso_ms(ms: int) -> str:
    return time.strftime("%Y-%m-%dT%H:%M:%S", time.gmtime(ms // 1000)) + f".{ms % 1000:03d}Z"


class Feed:
    """Produces the three topics' records at a fixed rate and keeps each prediction's ack time."""

    def __init__(self, settings, products: int, rate: float):
        from confluent_kafka import Producer

        from glue import kafka

        self.ks = settings.kafka
        self.products = [f"B{i:02d}-USD" for i in range(products)]
        self.rate = rate
        self.producer = Producer(kafka.producer_config(self.ks, **{"linger.ms": 1}))
        self.acked: dict[tuple[str, int], float] = {}
        self.sent = 0
        self.stop = threading.Event()
        self.thread = threading.Thread(target=self._run, daemon=True)

    def _ack(self, key: tuple[str, int]):
        def on_delivery(err, _msg) -> None:
            if err is None:
                self.acked[key] = time.time() * 1000
        return on_delivery

    def _run(self) -> None:
        period = 1.0 / self.rate
        nxt = time.monotonic()
        price = dict.fromkeys(self.products, 100.0)
        n = 0
        while not self.stop.is_set():
            now_ms = int(time.time() * 1000)
            for i, pid in enumerate(self.products):
                t_ms = now_ms + i  # unique (product, time) per update
                price[pid] *= 1 + ((n * 7919 + i) % 13 - 6) * 1e-5
                emitted = time.time_ns()
                feature = {"product_id": pid, "second_at": _iso_ms(t_ms), "sql_version": "bench",
                           "mid_price": round(price[pid], 4), "vol_60s_bps": 1.0 + (n % 10) / 10,
                           "vol_300s_bps": 1.2, "emitted_at": emitted}
                prob = ((n * 31 + i * 17) % 100) / 100
                pred = {"product_id": pid, "second_at": _iso_ms(t_ms), "probability": prob, "is_spike": prob >= 0.97,
                        "threshold": 0.97, "model_version": "bench-1", "sql_version": "bench",
                        "feature_emitted_at": emitted, "scored_at": time.time_ns()}
                frame = json.dumps({"channel": "ticker", "timestamp": _iso_ms(t_ms), "sequence_num": n,
                                    "events": [{"type": "update", "tickers": [{"product_id": pid}]}]})
                headers = [("glue.v", b"1"), ("glue.kind", b"frame"), ("glue.recv_ns", str(emitted).encode()),
                           ("glue.conn", b"bench"), ("glue.iseq", str(n).encode()), ("glue.seq", str(n).encode())]
                key = pid.encode()
                self.producer.produce(self.ks.topic_raw, key=key, value=frame.encode(), headers=headers)
                self.producer.produce(self.ks.topic_features, key=key, value=json.dumps(feature).encode())
                self.producer.produce(self.ks.topic_predictions, key=key, value=json.dumps(pred).encode(),
                                      on_delivery=self._ack((pid, t_ms)))
                self.sent += 1
            self.producer.poll(0)
            n += 1
            nxt += period
            self.stop.wait(max(0.0, nxt - time.monotonic()))
        self.producer.flush(10)


def main(argv: list[str]) -> int:
    ap = argparse.ArgumentParser(prog="bench.view", description=__doc__.splitlines()[0])
    ap.add_argument("--seconds", type=float, default=30.0, help="measured seconds (after a 10 s warm-up)")
    ap.add_argument("--products", type=int, default=4)
    ap.add_argument("--rate", type=float, default=10.0, help="updates per second per product")
    ap.add_argument("--bootstrap", default=None, help="a running broker (default: start docker/local-kafka)")
    args = ap.parse_args(argv)

    sys.path.insert(0, str(REPO))
    from playwright.sync_api import sync_playwright

    from glue import kafka
    from glue.config import Settings
    from glue.net import free_port
    from glue.score import percentile
    from glue.testing.names import unique_name
    from glue.testing.processes import cpu_seconds, start_broker

    tmp = Path(tempfile.mkdtemp(prefix="bench-view-"))
    home = tmp / "kafka"
    view = None
    try:
        bootstrap = args.bootstrap or start_broker(home)
        topics = {"topic_raw": unique_name("raw"), "topic_features": unique_name("features"),
                  "topic_predictions": unique_name("predictions")}
        port = free_port()
        config = tmp / "glue.yaml"
        config.write_text(yaml.safe_dump({"kafka": {"bootstrap_servers": bootstrap, **topics},
                                          "view": {"port": port, "history_s": 120}}))
        settings = Settings().replace({"kafka.bootstrap_servers": bootstrap,
                                       **{f"kafka.{k}": v for k, v in topics.items()}})
        kafka.wait_until_ready(bootstrap, 30)
        kafka.ensure_topics(settings.kafka, list(topics.values()))
        view = subprocess.Popen([sys.executable, "-m", "glue", "--config", str(config), "view"],
                                stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True, cwd=REPO)
        assert view.stdout is not None
        for line in view.stdout:
            if line.startswith("view: open "):
                url = line.split()[2]
                break
        else:
            raise SystemExit("glue view did not start")
        threading.Thread(target=lambda: [None for _ in view.stdout], daemon=True).start()
        feed = Feed(settings, args.products, args.rate)
        with sync_playwright() as pw:
            browser = pw.chromium.launch(executable_path=CHROMIUM, args=FLAGS, headless=True)
            page = browser.new_page(viewport={"width": 1500, "height": 1000})
            page.goto(url)
            feed.thread.start()
            page.wait_for_timeout(10_000)  # warm-up: reader assigned, page drawing
            cpu0, wall0, sent0 = cpu_seconds(view.pid), time.monotonic(), feed.sent
            acked_before = set(feed.acked)
            page.wait_for_timeout(args.seconds * 1000)
            cpu1, wall1 = cpu_seconds(view.pid), time.monotonic()
            feed.stop.set()
            feed.thread.join(15)
            page.wait_for_timeout(3000)  # the last updates reach the page
            seen = {(p, t): ms for p, t, ms in page.evaluate("window.__view.seen")}
            errors = page.evaluate("window.__view.errors")
            browser.close()
        measured = {k: v for k, v in feed.acked.items() if k not in acked_before}
        latencies = [seen[k] - ack for k, ack in measured.items() if k in seen]
        missing = sum(k not in seen for k in measured)
        rss = _rss_mb(view.pid)
        print(f"bench.view: {args.products} products x {args.rate:g} updates/s "
              f"({feed.sent - sent0} predictions in the {args.seconds:.0f} s window, plus as many feature rows "
              "and raw frames)")
        print(f"  prediction acked -> on the page: p50 {percentile(latencies, 50):.0f} ms, "
              f"p99 {percentile(latencies, 99):.0f} ms, max {max(latencies, default=0):.0f} ms "
              f"({len(latencies)} measured, {missing} never shown, {errors} page errors); target p99 < 1000 ms")
        print(f"  glue view server CPU: {100 * (cpu1 - cpu0) / (wall1 - wall0):.1f} % of one core "
              f"(push every {settings.view.push_interval_s:g} s), RSS {rss:.0f} MB")
        return 0
    finally:
        if view is not None and view.poll() is None:
            view.terminate()
            view.wait(10)
        if args.bootstrap is None:
            subprocess.run([str(REPO / "docker" / "local-kafka"), "down", "--home", str(home)], capture_output=True)
        shutil.rmtree(tmp, ignore_errors=True)


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
