"""Benchmark: sustained messages/s from the fake exchange through `glue ingest` into Kafka and the archive.

Three real processes: `glue exchange` (speed 0: as fast as the client reads, with a sent log), the
`glue ingest` under test, and a Kafka broker (`--bootstrap`, or one of its own started with
docker/local-kafka on free ports and stopped at the end). After the run it checks that nothing was
lost: every frame in the exchange's sent log is in the archive, and Kafka holds exactly as many
messages as the archive's records fan out to. Prints frames/s, MB/s, receipt-to-acknowledged
latency p50/p99 (measured inside ingest on the monotonic clock), and the CPU time each process used
(what limits the rate: a process near 100 % of one core is the bottleneck).

Then a same-run reference, so the figures survive a slow or busy host: the very frames ingest archived,
produced by a bare producer (the same config, the same broker, a fresh topic, no ingest logic) and parsed
by the same JSON decoder, each timed alone. Targets are ratios to it: ingest's rate >= 50 % of the bare
produce rate (`rate ratio`), and ingest's CPU per message against bare produce + parse.

    .venv/bin/python -m bench.ingest [--seconds 30] [--bootstrap 127.0.0.1:9092] [--source sim|recording
        --recording FILE ...] [--channels ticker,market_trades,level2,heartbeats] [--profile]
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import signal
import subprocess
import sys
import tempfile
import time
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent
GLUE = [sys.executable, "-m", "glue"]
if str(REPO) not in sys.path:
    sys.path.insert(0, str(REPO))

from glue.net import free_port  # noqa: E402
from glue.testing.processes import cpu_seconds, stop, wait_port  # noqa: E402


def _env() -> dict[str, str]:
    # the processes take their settings from flags only
    return {k: v for k, v in os.environ.items() if not k.startswith("GLUE_")} | {"PYTHONUNBUFFERED": "1"}


def _topic_total(bootstrap: str, topic: str) -> int:
    from confluent_kafka import Consumer, TopicPartition

    consumer = Consumer({"bootstrap.servers": bootstrap, "group.id": "bench-ingest-watermarks", "log_level": 2})
    try:
        meta = consumer.list_topics(topic, timeout=10)
        total = 0
        for p in meta.topics[topic].partitions:
            low, high = consumer.get_watermark_offsets(TopicPartition(topic, p), timeout=10)
            total += high - low
        return total
    finally:
        consumer.close()


def _cpu_self_s() -> float:
    """CPU seconds of this process, all threads (librdkafka's included)."""
    import resource

    usage = resource.getrusage(resource.RUSAGE_SELF)
    return usage.ru_utime + usage.ru_stime


def bare_reference(bootstrap: str, records: list) -> dict[str, float]:
    """The same frames, produced bare to a fresh topic on the same broker and parsed bare: rates and CPU/message."""
    from confluent_kafka import Producer

    from glue.config import KafkaSettings
    from glue.kafka import ensure_topics, producer_config
    from glue.protocol import parse_json
    from glue.records import fanout_keys

    ks = KafkaSettings(bootstrap_servers=bootstrap, topic_raw=f"bench-bare-{time.time_ns()}")
    ensure_topics(ks, [ks.topic_raw])
    messages = [(key.encode(), r.kafka_value()) for r in records for key in fanout_keys(r)]
    producer = Producer(producer_config(ks, **{"message.timeout.ms": 0}))
    acked = [0]

    def on_delivery(err, _msg) -> None:
        if err is None:
            acked[0] += 1

    t0, c0 = time.perf_counter(), _cpu_self_s()
    for key, value in messages:
        while True:
            try:
                producer.produce(ks.topic_raw, value=value, key=key, on_delivery=on_delivery)
                break
            except BufferError:
                producer.poll(0.05)
        producer.poll(0)
    producer.flush(120)
    produce_s, produce_cpu = time.perf_counter() - t0, _cpu_self_s() - c0
    frames = [r.frame for r in records if r.kind == "frame"]
    t0, c0 = time.perf_counter(), _cpu_self_s()
    for text in frames:
        parse_json(text)
    parse_s, parse_cpu = time.perf_counter() - t0, _cpu_self_s() - c0
    return {"messages": len(messages), "acked": acked[0], "produce_rate": len(messages) / produce_s,
            "produce_cpu_us": produce_cpu / max(1, len(messages)) * 1e6, "parse_rate": len(frames) / parse_s,
            "parse_cpu_us": parse_cpu / max(1, len(frames)) * 1e6}


def main(argv: list[str]) -> None:
    parser = argparse.ArgumentParser(prog="python -m bench.ingest", description=__doc__.split("\n\n")[0])
    parser.add_argument("--seconds", type=float, default=30.0)
    parser.add_argument("--bootstrap", default=None, help="an existing broker (default: start one of our own)")
    parser.add_argument("--source", default="sim", choices=("sim", "recording"))
    parser.add_argument("--recording", action="append", default=[])
    parser.add_argument("--channels", default="ticker,market_trades,level2,heartbeats")
    parser.add_argument("--pairs", default="BTC-USD,ETH-USD")
    parser.add_argument("--profile", action="store_true", help="run ingest under cProfile and print the top")
    args = parser.parse_args(argv)

    work = Path(tempfile.mkdtemp(prefix="bench-ingest-"))
    broker_home = None
    bootstrap = args.bootstrap
    procs: list[subprocess.Popen] = []
    try:
        if bootstrap is None:
            broker_home = work / "kafka"
            port, controller = free_port(), free_port()
            subprocess.run([str(REPO / "docker" / "local-kafka"), "up", "--home", str(broker_home), "--port",
                            str(port), "--controller-port", str(controller), "--heap", "512m", "--python",
                            sys.executable, "--timeout", "120"], check=True, capture_output=True, env=_env())
            bootstrap = f"127.0.0.1:{port}"
        topic = f"bench-ticks-raw-{int(time.time())}"
        ex_port = free_port()
        sent_log = work / "sent.ndjson"
        ex_cmd = [*GLUE, "--log-level", "WARNING", "exchange", "--port", str(ex_port), "--speed", "0",
                  "--source", args.source, "--products", args.pairs, "--sent-log", str(sent_log)]
        if args.source == "sim":
            ex_cmd += ["--start-at", "2026-01-01T00:00:00Z"]
        for rec in args.recording:
            ex_cmd += ["--recording", rec]
        exchange = subprocess.Popen(ex_cmd, cwd=REPO, env=_env(), stdout=subprocess.DEVNULL)
        procs.append(exchange)
        wait_port(ex_port)
        ingest_cmd = [*GLUE, "ingest", "--url", f"ws://127.0.0.1:{ex_port}", "--bootstrap", bootstrap,
                      "--topic", topic, "--channels", args.channels, "--archive-dir", str(work / "raw"),
                      "--spool-dir", str(work / "spool"), "--minutes", str(args.seconds / 60), "--json-summary"]
        for pair in args.pairs.split(","):
            ingest_cmd += ["--pair", pair]
        if args.profile:
            ingest_cmd = [sys.executable, "-m", "cProfile", "-o", str(work / "ingest.prof"), "-m", "glue",
                          *ingest_cmd[3:]]
        started = time.monotonic()
        ingest = subprocess.Popen(ingest_cmd, cwd=REPO, env=_env(), stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                                  text=True)
        procs.append(ingest)
        ex_cpu = ingest_cpu = 0.0
        start_cpu = None  # ingest CPU when the first frame was sent: start-up (imports, connect) excluded
        while ingest.poll() is None:
            ex_cpu, ingest_cpu = cpu_seconds(exchange.pid), cpu_seconds(ingest.pid)
            if start_cpu is None and sent_log.exists() and sent_log.stat().st_size > 0:
                start_cpu = ingest_cpu
            time.sleep(0.2)
        out, err = ingest.communicate()
        wall = time.monotonic() - started
        if ingest.returncode != 0:
            print(err[-4000:], file=sys.stderr)
            raise SystemExit(f"ingest failed with exit code {ingest.returncode}")
        summary = json.loads(out.strip().splitlines()[-1])
        exchange.send_signal(signal.SIGTERM)
        exchange.wait(30)

        from glue.records import fanout_keys, read_archive

        records = list(read_archive(summary["archive_files"]))
        frames = [r for r in records if r.kind == "frame"]
        expected_kafka = sum(len(fanout_keys(r)) for r in records)
        with open(sent_log, encoding="utf-8") as fh:
            sent = sum(1 for _ in fh)
        in_kafka = _topic_total(bootstrap, topic)
        rate = summary["frames"] / summary["elapsed_s"]
        lost = sent - len(frames)
        print(f"exchange: {' '.join(ex_cmd)}")
        print(f"ingest:   {' '.join(ingest_cmd)}")
        print(f"frames sent by the exchange     {sent:>12,}")
        print(f"frames archived                 {len(frames):>12,}  (lost: {lost})")
        print(f"Kafka messages (acked / topic)  {summary['kafka_acked']:>12,} / {in_kafka:,} "
              f"(expected {expected_kafka:,})")
        print(f"sustained rate                  {rate:>12,.0f} messages/s over {summary['elapsed_s']:.1f} s "
              f"({summary['bytes_received'] / summary['elapsed_s'] / 1e6:.1f} MB/s of frames)")
        print(f"receipt -> acknowledged latency p50 {summary['latency_p50_ms']} ms, p99 {summary['latency_p99_ms']} ms")
        print(f"CPU: exchange {ex_cpu:.1f} s, ingest {ingest_cpu:.1f} s (wall {wall:.1f} s; load average "
              f"{os.getloadavg()[0]:.1f} on {os.cpu_count()} cores); reconnects {summary['reconnects']}, "
              f"seq gaps {summary['seq_gaps']}, spooled {summary['kafka_spooled_total']}")
        busy = ingest_cpu - (start_cpu or 0.0)
        if busy > 0:
            print(f"ingest CPU cost                  {busy / max(1, summary['frames']) * 1e6:>9.1f} us/message "
                  f"(after start-up, incl. librdkafka threads) -> {summary['frames'] / busy:,.0f} messages/s "
                  f"per fully available core")
        ok = lost == 0 and in_kafka == expected_kafka == summary["kafka_acked"]
        print("nothing lost: " + ("yes" if ok else "NO"))
        ref = bare_reference(bootstrap, records)
        messages_rate = summary["kafka_acked"] / summary["elapsed_s"]
        ratio = messages_rate / ref["produce_rate"]
        print(f"same-run reference: bare produce {ref['produce_rate']:>10,.0f} Kafka messages/s "
              f"({ref['produce_cpu_us']:.1f} us CPU each, {ref['acked']:,} of {ref['messages']:,} acked), "
              f"bare parse {ref['parse_rate']:,.0f} frames/s ({ref['parse_cpu_us']:.1f} us each)")
        print(f"rate ratio: ingest {messages_rate:,.0f} Kafka messages/s = {ratio:.0%} of the bare produce rate "
              f"(target >= 50 %: {'met' if ratio >= 0.5 else 'MISSED'})")
        if busy > 0:
            bare_us = ref["produce_cpu_us"] * summary["kafka_acked"] / max(1, summary["frames"]) + ref["parse_cpu_us"]
            ingest_us = busy / max(1, summary["frames"]) * 1e6
            print(f"CPU ratio: ingest {ingest_us:.1f} us/message = {ingest_us / bare_us:.1f}x bare produce + parse "
                  f"({bare_us:.1f} us/message)")
        if args.profile:
            import pstats

            pstats.Stats(str(work / "ingest.prof")).sort_stats("tottime").print_stats(30)
    finally:
        for proc in procs:
            stop(proc)
        if broker_home is not None:
            subprocess.run([str(REPO / "docker" / "local-kafka"), "down", "--home", str(broker_home)],
                           capture_output=True, env=_env(), check=False)
        shutil.rmtree(work, ignore_errors=True)


if __name__ == "__main__":
    main(sys.argv[1:])
