"""What one `glue score` run is asked to do (`ScoreJob`) and what it did (`ScoreSummary`)."""

from __future__ import annotations

import math
from dataclasses import dataclass, field


@dataclass(frozen=True)
class ScoreJob:
    """What one `glue score` run consumes and when it stops (the CLI builds it from flags)."""

    model_source: str | None = None  # models:/NAME@ALIAS or an artifacts directory; None = the registered champion
    group_id: str | None = None  # None = settings.model.score_group_id
    idle_exit_s: float = 0.0  # stop after this long without input once partitions are assigned (0 = never)
    max_rows: int = 0  # stop after this many consumed rows (0 = no limit)
    progress_interval_s: float = 5.0


@dataclass
class ScoreSummary:
    """What one `run_score` call did; printed at the end and returned to callers and tests."""

    consumed: int = 0
    predicted: int = 0
    alerts: int = 0
    dead_lettered: int = 0
    batches: int = 0
    elapsed_s: float = 0.0
    model_version: str = ""
    sql_version: str = ""
    latencies_ms: list[float] = field(default_factory=list, repr=False)
    dlq_reasons: dict[str, int] = field(default_factory=dict)

    def percentile_ms(self, q: float) -> float:
        return percentile(self.latencies_ms, q)

    def line(self) -> str:
        rate = self.consumed / self.elapsed_s if self.elapsed_s > 0 else 0.0
        return (
            f"score: consumed {self.consumed} rows ({rate:.0f}/s), predicted {self.predicted}, "
            f"alerts {self.alerts}, dead-lettered {self.dead_lettered}, "
            f"latency p50 {self.percentile_ms(50):.1f} ms p99 {self.percentile_ms(99):.1f} ms, "
            f"model {self.model_version or '?'} (sql {self.sql_version or '?'})"
        )


def percentile(values: list[float], q: float) -> float:
    """Nearest-rank percentile (0 for an empty list); deterministic and dependency free."""
    if not values:
        return 0.0
    ordered = sorted(values)
    rank = max(1, math.ceil(q / 100.0 * len(ordered)))
    return ordered[min(rank, len(ordered)) - 1]
