"""Benchmark: training time on a simulated week of 1-second rows, and infer throughput / real-time factor.

    .venv/bin/python -m bench.models                 # 2 products x 7 days (~1.2M rows)
    .venv/bin/python -m bench.models --days 1        # quicker

Prints: data generation time, training time per step (no MLflow, so the figure is the modelling cost),
scoring rows/s and the real-time factor (seconds of market per second of scoring) for the batch path,
and the single-row latency p50/p99 of `Scorer.score` (the live scorer's per-row cost).
"""

from __future__ import annotations

import argparse
import logging
import tempfile
import time
from pathlib import Path

import numpy as np


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(prog="bench.models")
    parser.add_argument("--days", type=float, default=7.0)
    parser.add_argument("--hgb", action="store_true", help="Also train the gradient-boosting candidate.")
    args = parser.parse_args(argv or [])
    logging.basicConfig(level=logging.WARNING)

    from glue.config import Settings
    from glue.modeling.infer import infer
    from glue.modeling.scorer import load_scorer
    from glue.modeling.training import HGB, LOGREG, train
    from glue.testing.synthetic import synthetic_features

    seconds = int(args.days * 86400)
    with tempfile.TemporaryDirectory() as tmp:
        t0 = time.perf_counter()
        df = synthetic_features(seconds=seconds, seed=7)
        path = Path(tmp) / "features.parquet"
        df.to_parquet(path, index=False)
        print(f"generated {len(df):,} rows (2 products x {args.days:g} days) in {time.perf_counter() - t0:.1f} s")

        settings = Settings().replace({"model.artifacts_dir": f"{tmp}/artifacts", "model.reports_dir": f"{tmp}/r",
                                       "model.bootstrap_samples": 200})
        families = (LOGREG, HGB) if args.hgb else (LOGREG,)
        t0 = time.perf_counter()
        result = train(settings, features=str(path), log_mlflow=False, report=False, families=families)
        total = time.perf_counter() - t0
        print(f"train ({'+'.join(families)}, walk-forward {settings.model.walk_forward_folds} folds, "
              f"{settings.model.bootstrap_samples} bootstrap resamples): {total:.1f} s total")
        for step, secs in result.timings_s.items():
            print(f"  {step:24s} {secs:8.2f} s")
        for name, m in result.models.items():
            print(f"  {name:22s} test PR-AUC {m.test['pr_auc']:.3f} (positive rate {m.test['positive_rate']:.3f})")

        res = infer(settings, str(path), source=f"{tmp}/artifacts")
        print(f"infer: {res.rows:,} rows in {res.score_s:.2f} s = {res.rows_per_s:,.0f} rows/s; "
              f"{res.market_seconds:,} s of market -> {res.realtime_factor:,.0f}x real time (read {res.read_s:.2f} s)")

        scorer = load_scorer(f"{tmp}/artifacts")
        rows = df.sample(1000, random_state=1)
        lat = []
        for i in range(len(rows)):
            one = rows.iloc[[i]]
            t = time.perf_counter()
            scorer.score(one)
            lat.append((time.perf_counter() - t) * 1e3)
        print(f"single-row Scorer.score: p50 {np.percentile(lat, 50):.2f} ms, p99 {np.percentile(lat, 99):.2f} ms "
              f"(1000 rows)")


if __name__ == "__main__":
    import sys

    main(sys.argv[1:])
