"""What one `glue featurize` run is asked to do (`FeaturizeJob`) and what it did (`FeaturizeStats`)."""

from __future__ import annotations

import time
from dataclasses import dataclass, field
from pathlib import Path


@dataclass(frozen=True)
class FeaturizeJob:
    """What one `glue featurize` run consumes and writes (the CLI builds it from flags + settings)."""

    topic_in: str
    topic_out: str
    parquet_dir: Path
    warehouse: Path
    group_id: str
    max_seconds: float = 0.0  # 0 = no limit
    until_idle_s: float = 0.0  # 0 = run until stopped
    progress_interval_s: float = 5.0
    crash_at: str = ""  # test hook only, see CrashHook


@dataclass
class FeaturizeStats:
    """Counters of one run (and of one progress interval); `line()` is the progress/summary text."""

    frames: int = 0
    dead_letters: int = 0
    late: int = 0
    rows: int = 0
    batches: int = 0
    exports: int = 0
    recovered_exports: int = 0
    skipped_in_kafka: int = 0
    already_published: int = 0  # rows a previous owner of their partition had published (not sent again)
    book_breaks: int = 0  # level2 books broken so far (SQL v4: Warehouse.book_breaks, logged per step by reason)
    watermark_ns: int = 0
    elapsed_s: float = 0.0
    batch_s: list[float] = field(default_factory=list, repr=False)
    phase_s: dict[str, float] = field(default_factory=dict)  # land/finalize/export/snapshot, summed

    def line(self, elapsed_s: float, label: str = "featurize") -> str:
        rate = self.frames / elapsed_s if elapsed_s > 0 else 0.0
        lag = (time.time_ns() - self.watermark_ns) / 1e9 if self.watermark_ns else float("nan")
        busy = sum(self.batch_s)
        cost = 1000 * busy / len(self.batch_s) if self.batch_s else 0.0
        p50 = 1000 * sorted(self.batch_s)[len(self.batch_s) // 2] if self.batch_s else 0.0
        return (
            f"{label}: {self.frames} frames ({rate:.0f}/s), {self.rows} rows emitted in {self.exports} exports, "
            f"{self.dead_letters} dead-lettered, {self.late} late, {self.batches} batches "
            f"({cost:.1f} ms/batch, p50 {p50:.1f} ms, busy {busy:.2f} s), watermark lag {lag:.1f} s"
            + (f", {self.already_published} rows already published by a previous owner" if self.already_published
               else "")
            + (f", {self.book_breaks} level2 book breaks" if self.book_breaks else "")
        )
