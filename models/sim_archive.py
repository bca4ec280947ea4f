"""Write a simulated market (glue.exchange's simulator) as an archive NDJSON file, as `glue ingest` records it.

    python models/sim_archive.py --minutes 360 --out data/sim/raw/2026-01-01/sim-0001.ndjson
    glue replay --raw data/sim/raw --out data/sim/features.parquet --labels-out data/sim/labels.parquet
    glue train --features data/sim/features.parquet --labels data/sim/labels.parquet \\
        --model-card docs/model_card_v4.md    # the card of the current SQL version (sql/manifest.yml)

Socket-free and seeded (same arguments -> same file): the frames one connection to `glue exchange`
would receive (all four channels), with receipt times a few milliseconds after the event time, and before
each frame the markers ingest's sequence tracker writes for it (a `clock` marker per heartbeat).
"""

from __future__ import annotations

import argparse
import random
from pathlib import Path

START_NS = 1_767_225_600 * 1_000_000_000  # 2026-01-01T00:00:00Z


def write_sim_archive(out: str | Path, minutes: float, products: tuple[str, ...] = ("BTC-USD", "ETH-USD"),
                      seed: int = 7, book_levels: int = 50) -> int:
    from glue.exchange import simulate_frames
    from glue.ingest.tracker import StreamTracker
    from glue.protocol import inspect_frame
    from glue.records import KIND_FRAME, KIND_MARKER, Record

    path = Path(out)
    path.parent.mkdir(parents=True, exist_ok=True)
    rng = random.Random(seed)
    tracker = StreamTracker(products)
    tracker.new_connection("sim-1")
    n = 0
    with path.open("w") as fh:
        for ns, text in simulate_frames(list(products), seed=seed, start_ns=START_NS, duration_s=minutes * 60,
                                        book_levels=book_levels):
            recv_ns = ns + rng.randint(100_000, 3_000_000)
            records = [Record(kind=KIND_MARKER, recv_ns=recv_ns, conn="sim-1", iseq=0, marker=m)
                       for m in tracker.observe(inspect_frame(text))]
            records.append(Record(kind=KIND_FRAME, recv_ns=recv_ns, conn="sim-1", iseq=0, frame=text))
            for rec in records:
                fh.write(Record(rec.kind, rec.recv_ns, rec.conn, n, rec.frame, rec.marker).to_archive_line() + "\n")
                n += 1
    return n


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--minutes", type=float, default=360.0)
    parser.add_argument("--out", default="data/sim/raw/2026-01-01/sim-0001.ndjson")
    parser.add_argument("--products", default="BTC-USD,ETH-USD")
    parser.add_argument("--seed", type=int, default=7)
    args = parser.parse_args()
    n = write_sim_archive(args.out, args.minutes, tuple(args.products.split(",")), args.seed)
    print(f"wrote {n:,} records ({args.minutes:g} simulated minutes) to {args.out}")


if __name__ == "__main__":
    main()
