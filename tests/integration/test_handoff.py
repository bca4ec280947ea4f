"""`glue handoff`: a complete bundle from a run's outputs, and a clear list when something is missing.

The run is built from real parts: a simulated archive (glue.exchange.simulate_frames as ingest would
archive it), a real model (glue.modeling through glue/testing/models.py), a real PDF (glue.pdfdoc).
"""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest

from glue.config import Settings
from glue.errors import DataError
from glue.handoff import build_handoff
from glue.records import Record
from glue.testing.models import train_artifacts

REPO = Path(__file__).resolve().parents[2]
BUNDLE_FILES = {
    "README.md", "MANIFEST.json", "deploy/compose.yaml", "deploy/Dockerfile.ingestor", "deploy/.env.example",
    "deploy/requirements.txt", "docs/feature_spec.md", "docs/model_card.md", "model/model.skops",
    "model/model.json", "data/raw_10min.ndjson", "data/features_10min.parquet", "reports/train_eval.pdf",
    "reports/model_eval.pdf",
    "reports/test_vs_train.html", "predictions/predictions.ndjson",
}


def make_run(root: Path, minutes: float = 14) -> Settings:
    from glue.exchange import simulate_frames
    from glue.pdfdoc import markdown_to_pdf

    raw = root / "raw" / "2026-01-05"
    raw.mkdir(parents=True)
    with open(raw / "run-0001.ndjson", "w") as fh:
        for i, (ns, text) in enumerate(simulate_frames(["BTC-USD"], duration_s=minutes * 60, book_levels=50)):
            fh.write(Record(kind="frame", recv_ns=ns, conn="c1", iseq=i, frame=text).to_archive_line() + "\n")
    train_artifacts(root / "models" / "artifacts", seconds=900)
    (root / "reports" / "evidently").mkdir(parents=True)
    markdown_to_pdf("# Model evaluation\n\nA test report.\n", root / "reports" / "train_eval.pdf")
    (root / "reports" / "evidently" / "test_vs_train.html").write_text("<html>evidently</html>\n")
    (root / "model_card.md").write_text("# Model card\n")
    (root / "predictions.ndjson").write_text(json.dumps({"product_id": "BTC-USD"}) + "\n")
    return Settings().replace({
        "ingest.archive_dir": str(root / "raw"),
        "features.parquet": str(root / "features.parquet"),
        "model.artifacts_dir": str(root / "models" / "artifacts"),
        "model.reports_dir": str(root / "reports"),
    })


@pytest.mark.slow
def test_handoff_bundle_is_complete(tmp_path):
    settings = make_run(tmp_path / "run")
    out = tmp_path / "bundle"
    manifest = build_handoff(settings, out)

    files = {str(p.relative_to(out)) for p in out.rglob("*") if p.is_file()}
    assert files >= BUNDLE_FILES, BUNDLE_FILES - files
    assert set(manifest) == files - {"MANIFEST.json"}
    note = (out / "README.md").read_text()
    assert "Selected-base" in note and "glue --config data/demo/glue.yaml handoff" in note
    assert "glue replay --raw handoff/bundle/data/raw_10min.ndjson" in note

    # The slice is the first 10 minutes of event time, and its features are those 10 minutes replayed.
    import pyarrow.parquet as pq

    features = pq.read_table(out / "data" / "features_10min.parquet").to_pandas()
    assert len(features) > 0
    span_s = (features["second_at"].max() - features["second_at"].min()).total_seconds()
    assert 540 <= span_s <= 600

    # Built again from the same inputs: the same bytes (the manifest is the proof). Files copied
    # verbatim from the repository (deploy/, docs/) are left out: they change only when edited.
    again = build_handoff(settings, tmp_path / "bundle2")

    def generated(m: dict) -> dict:
        return {k: v for k, v in m.items() if not k.startswith(("deploy/", "docs/"))}

    assert generated(again) == generated(manifest)

    # The bundle's replay command gives the bundle's features.
    replayed = tmp_path / "replayed.parquet"
    result = subprocess.run([sys.executable, "-m", "glue", "replay", "--raw", str(out / "data" / "raw_10min.ndjson"),
                             "--out", str(replayed)], capture_output=True, text=True, timeout=300, cwd=REPO)
    assert result.returncode == 0, result.stderr
    assert pq.read_table(replayed).equals(pq.read_table(out / "data" / "features_10min.parquet"))


def test_handoff_lists_everything_missing(tmp_path):
    settings = Settings().replace({
        "ingest.archive_dir": str(tmp_path / "raw"),
        "features.parquet": str(tmp_path / "features.parquet"),
        "model.artifacts_dir": str(tmp_path / "artifacts"),
        "model.reports_dir": str(tmp_path / "reports"),
    })
    with pytest.raises(DataError) as err:
        build_handoff(settings, tmp_path / "bundle", repo=tmp_path)
    message = str(err.value)
    for item in ("compose file", "Dockerfile", ".env.example", "requirements.txt", "feature spec", "model card",
                 "model artifacts", "raw archive", "training report PDF", "Evidently report", "predictions file"):
        assert item in message
    assert "\n" not in message and not (tmp_path / "bundle").exists()
