"""`glue evaluate` end to end as a user runs it: two real capture sets in their original formats, one
folder each, leave-one-capture-out, a PDF report; a fold that cannot be scored says why in its row."""

from __future__ import annotations

import os
import re
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


def test_glue_evaluate_chooses_the_champion_on_held_out_training_captures(tmp_path: Path) -> None:
    """Three captures: in each fold, each training capture is scored by models fitted on the other one,
    and the fold's champion follows the lift those held-out scores show; a fold whose held-out fits
    cannot all be made says so and falls back to the validation tails."""
    captures = tmp_path / "captures"
    captures.mkdir()
    sets = (*SETS, "eshitaraj24__crypto-volatility")
    for name in sets:
        (captures / name).symlink_to(SHARED / name, target_is_directory=True)
    result = subprocess.run(
        [sys.executable, "-m", "glue", "evaluate", "--captures", str(captures), "--label", "assignment",
         "--choose-on", "captures", "--bootstrap-samples", "20", "--report", "", "--model-card", "",
         "--no-mlflow"],
        capture_output=True, text=True, timeout=900, cwd=tmp_path,
    )
    assert result.returncode == 0, result.stderr[-3000:]
    out = result.stdout
    assert "the champion is picked on held-out training groups" in out
    champions = dict(x.split(": ") for x in out.split("Champion per fold: ")[1].split("(", 1)[1].split(")")[0]
                     .split(", "))
    assert champions  # folds were scored
    held_out = 0
    for name, chosen in champions.items():
        line = next(x for x in out.splitlines() if x.startswith(f"  {name}: ")).strip()
        if "chosen on the validation tails" in line:
            continue
        held_out += 1
        m = re.match(rf"{name}: (\w+) vs (\w+) on 2 held-out training groups: .* lift [-+.\d]+ \[([-+.\d]+), ", line)
        assert m, line
        ml, base, ci_low = m.group(1), m.group(2), float(m.group(3))
        assert chosen == (ml if ci_low > 0 else base), (line, chosen)
    assert held_out >= 1, out[-3000:]
    assert "Traceback" not in result.stderr
