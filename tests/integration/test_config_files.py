"""Config files that cannot be used are one line and a non-zero exit (issue 14, item 5): real `glue` processes."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

REPO = Path(__file__).resolve().parents[2]


def glue(cwd: Path, *args: str) -> subprocess.CompletedProcess:
    env = {k: v for k, v in os.environ.items() if not k.startswith("GLUE_")}
    return subprocess.run([sys.executable, "-m", "glue", *args], cwd=cwd, env=env, capture_output=True, text=True,
                          timeout=120)


def _one_error_line(out: subprocess.CompletedProcess) -> str:
    assert out.returncode != 0, out.stdout
    lines = out.stderr.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("error: "), out.stderr
    return lines[0]


def test_config_that_is_not_utf8_is_one_line(tmp_path: Path) -> None:
    (tmp_path / "config.yaml").write_bytes("ingest:\n  pairs: [BTC-USD]  # caf\u00e9\n".encode("latin-1"))
    line = _one_error_line(glue(tmp_path, "sql", "SELECT 1", "--warehouse", str(tmp_path / "w.duckdb")))
    assert "config.yaml" in line and "UTF-8" in line
    named = _one_error_line(glue(REPO, "--config", str(tmp_path / "config.yaml"), "sql", "SELECT 1"))
    assert "UTF-8" in named


def test_config_option_naming_a_missing_file_is_one_line(tmp_path: Path) -> None:
    missing = tmp_path / "nope.yaml"
    line = _one_error_line(glue(tmp_path, "--config", str(missing), "sql", "SELECT 1"))
    assert str(missing) in line and "does not exist" in line
    directory = _one_error_line(glue(tmp_path, "--config", str(tmp_path), "sql", "SELECT 1"))
    assert "does not exist" in directory or "not a file" in directory


def test_no_config_file_and_no_option_still_runs_on_defaults(tmp_path: Path) -> None:
    (tmp_path / "out").mkdir()
    # no config.yaml in cwd and no --config: defaults, as before (glue sql then says the warehouse is missing)
    out = glue(tmp_path, "sql", "SELECT 1")
    assert out.returncode != 0 and "warehouse.duckdb" in out.stderr and "config" not in out.stderr


def test_invalid_yaml_is_still_one_line(tmp_path: Path) -> None:
    (tmp_path / "bad.yaml").write_text("ingest: [unclosed\n")
    assert "not valid YAML" in _one_error_line(glue(tmp_path, "--config", str(tmp_path / "bad.yaml"), "sql", "x"))
