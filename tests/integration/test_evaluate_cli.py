"""`glue evaluate` end to end as a user runs it: two real capture sets in their original formats, one
folder each, leave-one-capture-out, a PDF report; a fold that cannot be scored says why in its row."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

SHARED = Path(__file__).resolve().parents[3] / "shared" / "data" / "coinbase"
SETS = ("Rushabh2704__crypto-volatility", "arianna-m__crypto-volatility-pipeline")

pytestmark = pytest.mark.skipif(not SHARED.is_dir() and os.environ.get("CI", "").lower() != "true",
                                reason=f"real captures not present at {SHARED}")


def test_glue_evaluate_over_two_captures(tmp_path: Path) -> None:
    captures = tmp_path / "captures"
    captures.mkdir()
    for name in SETS:
        (captures / name).symlink_to(SHARED / name, target_is_directory=True)
    report = tmp_path / "eval.pdf"
    result = subprocess.run(
        [sys.executable, "-m", "glue", "evaluate", "--captures", str(captures), "--label", "assignment",
         "--bootstrap-samples", "20", "--report", str(report), "--model-card", "", "--no-mlflow"],
        capture_output=True, text=True, timeout=600, cwd=tmp_path,
    )
    assert result.returncode == 0, result.stderr[-3000:]
    assert report.read_bytes().startswith(b"%PDF")
    for name in SETS:
        assert f"| {name} |" in result.stdout, result.stdout[-3000:]
    assert "Traceback" not in result.stderr
