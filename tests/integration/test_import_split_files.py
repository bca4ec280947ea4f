"""A capture saved as many small files imports like the whole capture (issue 17, item 7).

Real shared captures are cut at test time (in tmp, never committed) into 20-second files and into
100-message files; imported and replayed, each must keep at least 99 % of the labelled seconds of the
unsplit capture. A file boundary is a gap only when the silence across it exceeds the ingest watchdog
or sequence numbers jump there.
"""

from __future__ import annotations

import json
from datetime import datetime
from pathlib import Path

import pytest

from glue.config import FeatureSettings, IngestSettings
from glue.importer import import_captures
from glue.records import read_archive

SHARED = Path(__file__).resolve().parents[3] / "shared" / "data" / "coinbase"
CASES = {
    "Rushabh2704__crypto-volatility": "BTC-USD_20260404_171343.ndjson",  # raw envelopes, sequence numbers
    "streakh__Crypto-Volatility-MLOps-Project": "raw_10min_slice.ndjson",  # flattened, BTC+ETH, seq jumps
    "mel-hsw__cryptoproject-final": "ticks_BTCUSD_20251206_071146.ndjson",  # flattened, no seq, 30 min
}

pytestmark = [pytest.mark.slow, pytest.mark.skipif(not SHARED.is_dir(), reason=f"real captures not at {SHARED}")]


def _time_s(line: str) -> float:
    obj = json.loads(line)
    text = obj.get("ws_timestamp") or obj.get("timestamp")
    return datetime.fromisoformat(text[:19]).timestamp()  # whole seconds are enough to cut 20 s files


def _split(source: Path, out: Path, *, seconds: float | None = None, messages: int | None = None) -> Path:
    out.mkdir(parents=True)
    lines = [ln for ln in source.read_text().splitlines() if ln.strip()]
    parts: list[list[str]] = [[]]
    start = _time_s(lines[0])
    for ln in lines:
        full = (messages is not None and len(parts[-1]) >= messages) or (
            seconds is not None and _time_s(ln) - start >= seconds)
        if full and parts[-1]:
            parts.append([])
            start = _time_s(ln)
        parts[-1].append(ln)
    for i, part in enumerate(parts):
        (out / f"part-{i:05d}.ndjson").write_text("\n".join(part) + "\n")
    return out


def _labelled_seconds(source: Path, tmp: Path) -> tuple[int, int]:
    from glue.replay import replay

    summary = import_captures([str(source)], str(tmp / "archive"), boundary_gap_s=IngestSettings().watchdog_s)
    boundary_gaps = sum(1 for r in read_archive(summary.archive_files)
                        if r.kind == "marker" and r.marker.get("detail", {}).get("boundary") == "file")
    labels = tmp / "labels.parquet"
    replay(summary.archive_files, None, FeatureSettings(), labels_out=str(labels))
    import pyarrow.parquet as pq

    column = pq.read_table(labels, columns=["sigma_future_bps"]).column(0)
    return len(column) - column.null_count, boundary_gaps


@pytest.mark.parametrize("name", sorted(CASES))
@pytest.mark.parametrize("cut", ["20s", "100msg"])
def test_split_capture_keeps_its_labelled_seconds(name, cut, tmp_path):
    source = SHARED / name / CASES[name]
    whole, _ = _labelled_seconds(source, tmp_path / "whole")
    assert whole > 300
    kwargs = {"seconds": 20.0} if cut == "20s" else {"messages": 100}
    parts = _split(source, tmp_path / "parts", **kwargs)
    assert len(list(parts.iterdir())) > 5
    split, boundary_gaps = _labelled_seconds(parts, tmp_path / "split")
    assert split >= 0.99 * whole, f"{split} of {whole} labelled seconds ({boundary_gaps} boundary gaps)"


def test_a_long_silence_or_a_sequence_jump_at_a_boundary_is_still_a_gap(tmp_path):
    src = SHARED / "Rushabh2704__crypto-volatility" / CASES["Rushabh2704__crypto-volatility"]
    lines = [ln for ln in src.read_text().splitlines() if ln.strip()]
    d = tmp_path / "in"
    d.mkdir()
    # file b starts 11 s after file a ends? take a stretch with a cut and drop 50 messages between them
    (d / "a.ndjson").write_text("\n".join(lines[10:500]) + "\n")
    (d / "b.ndjson").write_text("\n".join(lines[550:1000]) + "\n")
    summary = import_captures([str(d)], str(tmp_path / "out"))
    gaps = [r.marker for r in read_archive(summary.archive_files)
            if r.kind == "marker" and r.marker.get("detail", {}).get("boundary") == "file"]
    assert len(gaps) == 1 and gaps[0]["detail"]["why"] in ("sequence", "silence")
    # contiguous files: no boundary gap
    (d / "b.ndjson").write_text("\n".join(lines[500:1000]) + "\n")
    summary = import_captures([str(d)], str(tmp_path / "out2"))
    assert not [r for r in read_archive(summary.archive_files)
                if r.kind == "marker" and r.marker.get("detail", {}).get("boundary") == "file"]
