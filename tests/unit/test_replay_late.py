"""Replay's late frames, split by cause: another connection's overlapping capture vs. out of order in their own."""

from __future__ import annotations

from pathlib import Path

import pytest

from glue.config import FeatureSettings
from glue.replay import ReplayStats, replay
from glue.testing import fixtures as fx

T0 = 1_767_225_600


def _write(path: Path, records) -> str:
    path.write_text("".join(r.to_archive_line() + "\n" for r in records))
    return str(path)


def _overlap_and_step_back(tmp_path: Path) -> list[str]:
    """File a: conn c1, 0..59 s. File b: conn c2, 20..39 s (in order, behind c1: overlap).
    File c: conn c3 continues after 60 s, then its clock steps back 30 s for 5 frames (own order broken)."""
    a = [fx.ticker("BTC-USD", (T0 + s) * 10**9, "100", "101", seq=s, conn="c1") for s in range(60)]
    b = [fx.ticker("BTC-USD", (T0 + s) * 10**9 + 500_000_000, "100", "101", seq=s, conn="c2")
         for s in range(20, 40)]
    c = [fx.ticker("BTC-USD", (T0 + s) * 10**9, "100", "101", seq=s, conn="c3") for s in range(60, 70)]
    c += [fx.ticker("BTC-USD", (T0 + 40 + k) * 10**9, "100", "101", seq=70 + k, conn="c3") for k in range(5)]
    return [_write(tmp_path / "a.ndjson", a), _write(tmp_path / "b.ndjson", b), _write(tmp_path / "c.ndjson", c)]


@pytest.mark.parametrize("sql_version", ["", "v1"])
def test_late_frames_are_split_by_cause(tmp_path: Path, sql_version: str) -> None:
    paths = _overlap_and_step_back(tmp_path)
    fs = FeatureSettings(sql_version=sql_version) if sql_version else FeatureSettings()
    _, stats = replay(paths, None, fs, chunk_records=7)
    assert (stats.late, stats.late_overlap) == (25, 20), stats.line()
    assert "25 late dropped (20 behind another connection's data" in stats.line()
    assert "5 out of order within their own connection" in stats.line()


def test_the_split_does_not_depend_on_the_landing_steps(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    import glue.replay as gr

    paths = _overlap_and_step_back(tmp_path)
    fs = FeatureSettings()
    one, s1 = replay(paths, None, fs)
    monkeypatch.setattr(gr, "STEP_BYTES", 1)  # one landing step per file instead of one for all three
    many, s2 = replay(paths, None, fs)
    assert one.equals(many)
    assert (s1.late, s1.late_overlap) == (s2.late, s2.late_overlap) == (25, 20)


def test_no_late_frames_reads_plainly() -> None:
    assert "0 late," in ReplayStats().line()
