"""Write a simulated market (glue.exchange's simulator) as an archive NDJSON file, as `glue ingest` records it.

    python models/sim_archive.py --minutes 360 --out data/sim/raw/2026-01-01/sim-0001.ndjson
    glue replay --raw data/sim/raw --out data/sim/features.parquet --labels-out data/sim/labels.parquet
    glue train --features data/sim/features.parquet --labels data/sim/labels.parquet \\
        --model-card docs/model_card_v2.md    # the card of the current SQL version (sql/manifest.yml)

Socket-free and seeded (same arguments -> same file): the frames one connection to `glue exchange`
would receive (all four channels), with receipt times a few milliseconds after the event time.
"""

from __future__ import annotations

import argparse
import random
from pathlib import Path

START_NS = 1_767_225_600 * 1_000_000_000  # 2026-01-01T00:00:00Z


def write_sim_archive(out: str | Path, minutes: float, products: tuple[str, ...] = ("BTC-USD", "ETH-USD"),
                      seed: int = 7, book_levels: int = 50) -> int:
    from glue.exchange import simulate_frames
    from glue.records import KIND_FRAME, Record

    path = Path(out)
    path.parent.mkdir(parents=True, exist_ok=True)
    rng = random.Random(seed)
    n = 0
    with path.open("w") as fh:
        for i, (ns, text) in enumerate(simulate_frames(list(products), seed=seed, start_ns=START_NS,
                                                       duration_s=minutes * 60, book_levels=book_levels)):
            rec = Record(kind=KIND_FRAME, recv_ns=ns + rng.randint(100_000, 3_000_000), conn="sim-1", iseq=i,
                         frame=text)
            fh.write(rec.to_archive_line() + "\n")
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
    print(f"wrote {n:,} frames ({args.minutes:g} simulated minutes) to {args.out}")


if __name__ == "__main__":
    main()
