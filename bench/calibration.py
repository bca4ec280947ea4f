"""Benchmark the simulator's realism: volatility dynamics of the real captures beside the simulated market.

Reads every capture set under `--captures` in place (through `glue import`'s readers, into a temporary
directory), simulates the demo's market (BTC-USD + ETH-USD, `glue demo`'s start, 500 book levels, seed 7,
180 minutes) and a few other seeds, and prints one markdown table of the figures that
`glue.exchange.calibration.dynamics_from_series` defines: volatility clustering, mean reversion of the
short/long volatility ratio, intensity leading volatility, and sigma_future60 / RV_300 quantiles.
Per capture set and product, pooled over the real sets, per seed and pooled over the seeds.

    .venv/bin/python -m bench.calibration [--captures ../shared/data/coinbase] [--minutes 180] [--seeds 7,1,2]
"""

from __future__ import annotations

import argparse
import sys
import time
from pathlib import Path

DEFAULT_CAPTURES = str(Path(__file__).resolve().parent.parent.parent / "shared" / "data" / "coinbase")
DEMO_START_AT = "2026-01-05T00:00:00Z"  # glue.demo.SIM_START_AT
PRODUCTS = ("BTC-USD", "ETH-USD")


def real_series(captures: str) -> dict[str, list]:
    """'<set owner> <product>' -> the sessions' series, for every capture set directory."""
    from glue.exchange.calibration import capture_ticks, dynamics_series

    out: dict[str, list] = {}
    for d in sorted(p for p in Path(captures).iterdir() if p.is_dir()):
        owner = d.name.split("__")[0]
        for pid, series in dynamics_series(capture_ticks(str(d))).items():
            if series:
                out[f"{owner} {pid}"] = series
    return out


def sim_series(seed: int, minutes: float) -> dict[str, list]:
    from glue.exchange.calibration import dynamics_series, ticks_from_frames
    from glue.exchange.simulate import simulate_frames
    from glue.records import parse_rfc3339_ns

    stream = simulate_frames(list(PRODUCTS), seed=seed, start_ns=parse_rfc3339_ns(DEMO_START_AT),
                             duration_s=minutes * 60, channels=("ticker",), book_levels=500)
    return {f"sim s{seed} {pid}": s for pid, s in dynamics_series(ticks_from_frames(f for _, f in stream)).items()}


def table(columns: dict[str, dict[str, float]]) -> str:
    from glue.exchange.calibration import DYNAMICS_ROWS

    names = list(columns)
    lines = ["| statistic | " + " | ".join(names) + " |", "|---" * (len(names) + 1) + "|"]
    for row in DYNAMICS_ROWS:
        cells = []
        for name in names:
            v = columns[name].get(row, float("nan"))
            cells.append("" if v != v else (f"{v:.3g}" if abs(v) < 1000 else f"{v:.0f}"))
        lines.append(f"| {row} | " + " | ".join(cells) + " |")
    return "\n".join(lines)


def measure(captures: str, minutes: float, seeds: list[int]) -> dict[str, dict[str, float]]:
    from glue.exchange.calibration import dynamics_from_series

    real = real_series(captures)
    cols = {k: dynamics_from_series(v) for k, v in real.items()}
    cols["real pooled"] = dynamics_from_series([s for v in real.values() for s in v])
    cols["real pooled BTC-USD"] = dynamics_from_series([s for k, v in real.items() if k.endswith("BTC-USD")
                                                        for s in v])
    sims: dict[str, list] = {}
    for seed in seeds:
        sims.update(sim_series(seed, minutes))
    cols.update({k: dynamics_from_series(v) for k, v in sims.items()})
    cols["sim pooled"] = dynamics_from_series([s for v in sims.values() for s in v])
    return cols


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--captures", default=DEFAULT_CAPTURES, help="directory of capture sets")
    parser.add_argument("--minutes", type=float, default=180.0, help="simulated minutes per seed")
    parser.add_argument("--seeds", default="7,1,2", help="simulator seeds (7 = the demo's)")
    args = parser.parse_args(argv if argv is not None else sys.argv[1:])
    if not Path(args.captures).is_dir():
        print(f"error: no capture directory {args.captures}; pass --captures DIR", file=sys.stderr)
        raise SystemExit(2)
    t0 = time.perf_counter()
    cols = measure(args.captures, args.minutes, [int(s) for s in args.seeds.split(",")])
    print(f"volatility dynamics: real captures under {args.captures}; simulator {args.minutes:g} min per seed, "
          f"seeds {args.seeds} ({time.perf_counter() - t0:.0f} s)")
    print(table(cols))


if __name__ == "__main__":
    main()
