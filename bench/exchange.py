"""Benchmark the fake exchange: messages/s to one fast client (simulator and recording), and calibration.

Runs `glue exchange` as its own process (as ingest and the demo do) at `--speed 0` and reads with a
`websockets` client in this process for a fixed time after the snapshots, for:
* the simulator (BTC-USD, ETH-USD; level2, market_trades, ticker, heartbeats);
* a recording of the same simulator written in the archive format (frames are replayed, renumbered).
Then prints the market-calibration statistics of two simulated hours beside the real captures' figures
(same definitions: glue/exchange/calibration.py).

    .venv/bin/python -m bench.exchange [--seconds 10] [--hours 2]
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path

CHANNELS = ("level2", "market_trades", "ticker", "heartbeats")
PRODUCTS = ["BTC-USD", "ETH-USD"]
START_AT = "2026-01-01T00:00:00Z"


def _start_exchange(args: list[str]) -> tuple[subprocess.Popen, str]:
    cmd = [sys.executable, "-m", "glue", "--log-level", "WARNING", "exchange", "--port", "0", "--speed", "0",
           "--status-interval", "0", *args]
    proc = subprocess.Popen(cmd, stdout=subprocess.PIPE, text=True)
    assert proc.stdout is not None
    line = proc.stdout.readline()
    if "listening on" not in line:
        proc.kill()
        raise RuntimeError(f"exchange did not start: {line!r}")
    return proc, line.split()[-1]


async def _read(url: str, seconds: float) -> dict[str, float]:
    from websockets.asyncio.client import connect
    from websockets.exceptions import ConnectionClosedOK

    async with connect(url, max_size=None, compression=None) as ws:
        for ch in CHANNELS:
            msg = {"type": "subscribe", "channel": ch}
            if ch != "heartbeats":
                msg["product_ids"] = PRODUCTS
            await ws.send(json.dumps(msg))
        acks = 0
        while acks < len(CHANNELS):  # skip the snapshots and acks
            if '"subscriptions"' in await ws.recv():
                acks += 1
        n = nbytes = 0
        t0 = now = time.perf_counter()
        deadline = t0 + seconds
        try:
            while (now := time.perf_counter()) < deadline:
                frame = await ws.recv()
                n += 1
                nbytes += len(frame)
        except ConnectionClosedOK:  # a recording ran out
            now = time.perf_counter()
        return {"messages": n, "seconds": now - t0, "msg_per_s": n / (now - t0), "mb_per_s": nbytes / (now - t0) / 1e6}


def _cpu_s(pid: int) -> float:
    """User + system CPU seconds of a process (Linux /proc)."""
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def measure(args: list[str], seconds: float) -> dict[str, float]:
    proc, url = _start_exchange(args)
    try:
        cpu0 = _cpu_s(proc.pid)
        result = asyncio.run(_read(url, seconds))
        # The client in this process is usually the slower side: the server's CPU per message says
        # what the exchange itself could sustain.
        cpu = _cpu_s(proc.pid) - cpu0
        result["server_cpu_s"] = cpu
        result["server_capacity_msg_per_s"] = result["messages"] / cpu if cpu > 0 else float("nan")
        return result
    finally:
        proc.terminate()
        proc.wait(timeout=10)


def write_recording(path: Path, minutes: float) -> int:
    """The simulator's frames as an archive file (what `glue ingest` would have written)."""
    from glue.exchange.market import NS
    from glue.exchange.simulate import simulate_frames
    from glue.records import KIND_FRAME, Record, parse_rfc3339_ns

    n = 0
    start_ns = parse_rfc3339_ns(START_AT)
    with path.open("w") as fh:
        for ns, text in simulate_frames(PRODUCTS, seed=7, start_ns=start_ns, duration_s=minutes * 60):
            if '"subscriptions"' in text[:40]:
                continue
            fh.write(Record(KIND_FRAME, ns + NS // 1000, "bench", n, frame=text).to_archive_line() + "\n")
            n += 1
    return n


def calibration(hours: float) -> str:
    from glue.exchange.calibration import format_table, ticker_stats, ticks_from_frames
    from glue.exchange.market import NS
    from glue.exchange.simulate import simulate_frames

    stream = simulate_frames(PRODUCTS, seed=7, start_ns=1_767_225_600 * NS, duration_s=hours * 3600,
                             channels=("ticker",), book_levels=50)
    return format_table(ticker_stats(ticks_from_frames(f for _, f in stream)))


def report(name: str, r: dict[str, float]) -> None:
    print(f"{name} -> 1 client: {r['msg_per_s']:,.0f} msg/s, {r['mb_per_s']:.1f} MB/s "
          f"({r['messages']:,} messages in {r['seconds']:.1f} s); server CPU {r['server_cpu_s']:.2f} s "
          f"= {r['server_capacity_msg_per_s']:,.0f} msg per server CPU second")


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seconds", type=float, default=10.0, help="read time per source")
    parser.add_argument("--hours", type=float, default=2.0, help="simulated hours for the calibration table")
    parser.add_argument("--recording-minutes", type=float, default=60.0)
    args = parser.parse_args(argv if argv is not None else sys.argv[1:])
    print(f"machine: {os.cpu_count()} cores, load average {os.getloadavg()[0]:.1f}")

    sim = measure(["--start-at", START_AT, "--products", ",".join(PRODUCTS)], args.seconds)
    report("simulator", sim)
    with tempfile.TemporaryDirectory() as tmp:
        path = Path(tmp) / "bench-recording.ndjson"
        t0 = time.perf_counter()
        frames = write_recording(path, args.recording_minutes)
        print(f"recording: {frames:,} frames ({path.stat().st_size / 1e6:.0f} MB) written in "
              f"{time.perf_counter() - t0:.1f} s")
        rec = measure(["--source", "recording", "--recording", str(path)], args.seconds)
    report("recording", rec)

    t0 = time.perf_counter()
    table = calibration(args.hours)
    print(f"\ncalibration: {args.hours:g} simulated hours, seed 7 ({time.perf_counter() - t0:.1f} s); "
          "real captures from ../shared/docs/market-calibration.md")
    print(table)


if __name__ == "__main__":
    main()
