"""`glue handoff`: assemble the team bundle from a run's outputs, or say exactly what is missing.

Owns the bundle layout (under `handoff/bundle/` by default, git-ignored):

    README.md            the "Selected-base" note: what is in here and the exact steps to reproduce it
    MANIFEST.json        every file with its size and SHA-256 (sorted, so equal inputs give equal bytes)
    deploy/              compose.yaml, Dockerfile.ingestor, .env.example, requirements.txt
    docs/                feature_spec.md, model_card.md
    model/               the model artifacts directory (model.skops, model.json, ...)
    data/raw_10min.ndjson        the first 10 minutes (event time) of the run's raw archive
    data/features_10min.parquet  those 10 minutes replayed through the same SQL views (glue replay)
    reports/             train_eval.pdf (the run's `glue train` report), the Evidently report(s), and the
                         committed cross-capture report model_eval.pdf (`glue evaluate`) when the repo has it
    predictions/         the run's predictions file (from glue score or glue infer)

Where things come from: the settings (use the demo's `glue --config data/demo/glue.yaml handoff`),
and, for the files a run writes beside its features (predictions, model card), the run directory =
the parent of `features.parquet`.
"""

from __future__ import annotations

import hashlib
import json
import logging
import shutil
from dataclasses import dataclass, field
from pathlib import Path

from glue.config import Settings
from glue.errors import DataError

log = logging.getLogger("glue.handoff")

SLICE_S = 600
REPO = Path(__file__).resolve().parent.parent


@dataclass
class Sources:
    """Where each bundle item comes from (None when not found)."""

    items: dict[str, Path | None] = field(default_factory=dict)

    def missing(self) -> list[str]:
        return [name for name, path in self.items.items() if path is None]

    def found(self) -> dict[str, Path]:
        return {name: path for name, path in self.items.items() if path is not None}


def _first(*candidates: Path) -> Path | None:
    for c in candidates:
        if c.exists() and (c.is_file() or any(c.iterdir())):
            return c
    return None


def find_sources(settings: Settings, repo: Path = REPO, predictions: str | None = None,
                 model_card: str | None = None) -> Sources:
    """Locate every item of the bundle; what cannot be found is None."""
    run_dir = Path(settings.features.parquet).parent
    artifacts = Path(settings.model.artifacts_dir)
    reports = Path(settings.model.reports_dir)
    evidently = sorted((reports / "evidently").glob("*.html")) if (reports / "evidently").is_dir() else []
    archive = Path(settings.ingest.archive_dir)
    raw_files = sorted(archive.rglob("*.ndjson")) if archive.is_dir() else []
    from glue.modeling.model_card import model_card_path

    # the committed card of the SQL version the features are computed with (the manifest's current one)
    committed_card = repo / model_card_path(settings.features.sql_dir, settings.features.sql_version)
    items: dict[str, Path | None] = {
        "compose file (docker/compose.yaml)": _first(repo / "docker" / "compose.yaml"),
        "Dockerfile (docker/Dockerfile.ingestor)": _first(repo / "docker" / "Dockerfile.ingestor"),
        ".env.example": _first(repo / ".env.example"),
        "requirements.txt": _first(repo / "requirements.txt"),
        "feature spec (docs/feature_spec.md)": _first(repo / "docs" / "feature_spec.md"),
        "model card": _first(*(Path(p) for p in [model_card] if p), run_dir / "model_card.md",
                             artifacts / "model_card.md", committed_card),
        f"model artifacts ({artifacts}/model.skops + model.json)": (
            artifacts if (artifacts / "model.json").is_file() and (artifacts / "model.skops").is_file() else None
        ),
        f"raw archive ({archive}/**/*.ndjson)": raw_files[0] if raw_files else None,
        f"training report PDF ({reports}/train_eval.pdf)": _first(reports / "train_eval.pdf"),
        f"Evidently report ({reports}/evidently/*.html)": evidently[0] if evidently else None,
        f"predictions file ({run_dir}/predictions.ndjson|.parquet)": _first(
            *(Path(p) for p in [predictions] if p), run_dir / "predictions.ndjson", run_dir / "predictions.parquet"
        ),
    }
    return Sources(items)


def raw_slice(archive_dir: Path, out: Path, seconds: int = SLICE_S) -> tuple[int, int, int]:
    """Copy the first `seconds` of event time of the archive (frames and the markers among them).

    Lines are kept in archive order; a frame is in the slice when its envelope timestamp is within
    `seconds` of the first frame's; the slice ends at the first frame past that. Returns
    (lines written, first event ns, last event ns).
    """
    from glue.records import parse_rfc3339_ns, read_archive

    paths = [str(p) for p in sorted(archive_dir.rglob("*.ndjson"))]
    start_ns = last_ns = None
    n = 0
    with open(out, "w", encoding="utf-8") as fh:
        for record in read_archive(paths):
            if record.kind == "frame":
                try:
                    ts = json.loads(record.frame or "").get("timestamp")
                    event_ns = parse_rfc3339_ns(ts) if isinstance(ts, str) else None
                except (ValueError, AttributeError):
                    event_ns = None  # a bad frame stays in the slice: replay dead-letters it as live did
                if event_ns is not None:
                    if start_ns is None:
                        start_ns = event_ns
                    if event_ns > start_ns + seconds * 1_000_000_000:
                        break
                    last_ns = event_ns
            fh.write(record.to_archive_line() + "\n")
            n += 1
    if start_ns is None:
        raise DataError(f"no frames in the archive at {archive_dir}", "run the demo (make demo) first")
    return n, start_ns, last_ns or start_ns


def _sha256(path: Path) -> str:
    h = hashlib.sha256()
    with open(path, "rb") as f:
        for chunk in iter(lambda: f.read(1 << 20), b""):
            h.update(chunk)
    return h.hexdigest()


def build_handoff(settings: Settings, out: str | Path = "handoff/bundle", *, predictions: str | None = None,
                  model_card: str | None = None, repo: Path = REPO) -> dict:
    """Assemble the bundle into `out` (replacing a previous bundle); raises `DataError` listing what is
    missing. Returns the manifest."""
    sources = find_sources(settings, repo, predictions, model_card)
    missing = sources.missing()
    if missing:
        raise DataError(
            "cannot assemble the handoff bundle, missing: " + "; ".join(missing),
            "run `make demo`, then `glue --config data/demo/glue.yaml handoff`",
        )
    out = Path(out)
    if out.exists():
        shutil.rmtree(out)
    for sub in ("deploy", "docs", "model", "data", "reports", "predictions"):
        (out / sub).mkdir(parents=True)
    by_prefix = {name.split(" (")[0]: path for name, path in sources.found().items()}  # all found: checked above
    shutil.copy2(by_prefix["compose file"], out / "deploy" / "compose.yaml")
    shutil.copy2(by_prefix["Dockerfile"], out / "deploy" / "Dockerfile.ingestor")
    shutil.copy2(by_prefix[".env.example"], out / "deploy" / ".env.example")
    shutil.copy2(by_prefix["requirements.txt"], out / "deploy" / "requirements.txt")
    shutil.copy2(by_prefix["feature spec"], out / "docs" / "feature_spec.md")
    shutil.copy2(by_prefix["model card"], out / "docs" / "model_card.md")
    shutil.copytree(by_prefix["model artifacts"], out / "model", dirs_exist_ok=True)
    shutil.copy2(by_prefix["training report PDF"], out / "reports" / "train_eval.pdf")
    cross_capture = repo / "reports" / "model_eval.pdf"  # committed by `glue evaluate`; optional
    if cross_capture.is_file():
        shutil.copy2(cross_capture, out / "reports" / "model_eval.pdf")
    evidently_dir = by_prefix["Evidently report"].parent
    for html in sorted(evidently_dir.glob("*.html")):
        shutil.copy2(html, out / "reports" / html.name)
    pred = by_prefix["predictions file"]
    shutil.copy2(pred, out / "predictions" / pred.name)

    log.info("handoff: cutting the first %d s of the archive", SLICE_S)
    raw_out = out / "data" / "raw_10min.ndjson"
    lines, start_ns, end_ns = raw_slice(Path(settings.ingest.archive_dir), raw_out)
    from glue.replay import replay

    features_out = out / "data" / "features_10min.parquet"
    _table, stats = replay([str(raw_out)], str(features_out), settings.features, progress_interval_s=60)

    model_meta = json.loads((out / "model" / "model.json").read_text())
    note = selected_base_note(model_meta, lines, start_ns, end_ns, stats.rows, pred.name)
    (out / "README.md").write_text(note)
    manifest = {
        str(p.relative_to(out)): {"bytes": p.stat().st_size, "sha256": _sha256(p)}
        for p in sorted(out.rglob("*"))
        if p.is_file()
    }
    (out / "MANIFEST.json").write_text(json.dumps(manifest, indent=2, sort_keys=True) + "\n")
    log.info("handoff: %d files in %s", len(manifest) + 1, out)
    return manifest


def _iso(ns: int) -> str:
    from glue.records import format_rfc3339_ns

    return format_rfc3339_ns(ns)


def selected_base_note(meta: dict, raw_lines: int, start_ns: int, end_ns: int, feature_rows: int,
                       predictions_name: str) -> str:
    """The bundle's README: the selected base model and the exact steps to reproduce everything."""
    metrics = meta.get("metrics") or {}
    metrics = metrics.get("test", metrics) if isinstance(metrics.get("test"), dict) else metrics
    shown = {k: v for k, v in metrics.items() if isinstance(v, int | float) and not isinstance(v, bool)}
    metric_lines = "\n".join(f"| {k} | {v:.4g} |" for k, v in sorted(shown.items())) or "| (see model.json) | |"
    return f"""# Handoff bundle — Selected-base

**Selected-base** is the model this bundle hands over: the model `glue train` chose and registered as
`volatility-spike@champion` (`{meta.get('model_name', '?')}`), version `{meta.get('model_version', '?')}`, trained at
`{meta.get('trained_at', '?')}` on feature SQL version `{meta.get('sql_version', '?')}`
(fingerprint `{meta.get('sql_fingerprint', '?')}`), decision threshold `{meta.get('threshold', '?')}`.

| metric (test split) | value |
|---|---|
{metric_lines}

## What is in here

| path | what |
|---|---|
| `deploy/` | `compose.yaml`, `Dockerfile.ingestor`, `.env.example`, `requirements.txt`: run it with Docker Compose |
| `docs/feature_spec.md` | every feature column, its unit and window |
| `docs/model_card.md` | the model card (data, splits, metrics, limits) |
| `model/` | the model artifacts (`model.skops`, `model.json`): `glue infer --model model/ ...` |
| `data/raw_10min.ndjson` | the first 10 minutes of raw frames ({raw_lines} lines, {_iso(start_ns)} to {_iso(end_ns)}) |
| `data/features_10min.parquet` | those 10 minutes through the same SQL views ({feature_rows} feature rows) |
| `reports/train_eval.pdf` | the run's training report (`glue train`) |
| `reports/model_eval.pdf` | the cross-capture evaluation (`glue evaluate`), when the repository has it |
| `reports/*.html` | the Evidently drift and quality reports |
| `predictions/{predictions_name}` | the predictions of the run (one per product and second) |
| `MANIFEST.json` | size and SHA-256 of every file |

## Reproduce it, step by step

From a fresh clone of the repository, with Python 3.11+ (no Docker, no internet needed for the demo):

```bash
make demo                                        # venv + the whole product on a simulated market (seed 7)
glue --config data/demo/glue.yaml handoff        # this bundle, in handoff/bundle/
```

Check the 10-minute slice gives the same features, and score it with the selected model:

```bash
glue replay --raw handoff/bundle/data/raw_10min.ndjson --out /tmp/features_10min.parquet
python -c "import pyarrow.parquet as pq; a=pq.read_table('/tmp/features_10min.parquet'); \\
b=pq.read_table('handoff/bundle/data/features_10min.parquet'); print('identical:', a.equals(b))"
glue infer --model handoff/bundle/model --features handoff/bundle/data/features_10min.parquet
```

Serve it live: `glue score --model handoff/bundle/model --topic-in ticks.features --topic-out ticks.predictions`.
"""
