"""`glue replay --raw` takes captures as people have them: each shared set in its original format replays to
the same bytes as `glue import` then `glue replay`, and nothing is written beside the input."""

from __future__ import annotations

import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from glue.config import FeatureSettings
from glue.replay import expand_paths, is_archive_file, replay, run_replay

CAPTURES = Path(__file__).resolve().parents[2].parent / "shared" / "data" / "coinbase"
SETS = sorted(p.name for p in CAPTURES.iterdir() if p.is_dir()) if CAPTURES.is_dir() else []


@pytest.mark.slow
@pytest.mark.parametrize("name", SETS)
def test_raw_capture_equals_import_then_replay(name: str, tmp_path: Path) -> None:
    from glue.importer import import_captures

    fs = FeatureSettings()
    direct, stats = run_replay([str(CAPTURES / name)], str(tmp_path / "a" / "f.parquet"), fs,
                               labels_out=str(tmp_path / "a" / "l.parquet"))
    assert stats.converted == stats.files > 0
    import_captures([str(CAPTURES / name)], str(tmp_path / "imported"))
    paths = expand_paths([str(tmp_path / "imported")])
    assert all(is_archive_file(p) for p in paths)
    two_step, _ = replay(paths, str(tmp_path / "b" / "f.parquet"), fs, labels_out=str(tmp_path / "b" / "l.parquet"))
    assert direct.num_rows > 0
    assert direct.equals(two_step)
    for part in ("f.parquet", "l.parquet"):
        assert (tmp_path / "a" / part).read_bytes() == (tmp_path / "b" / part).read_bytes(), part


def _glue(*args: str, cwd: Path) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", "glue", *args], capture_output=True, text=True, cwd=cwd,
                          timeout=600)


def _small_set() -> Path:
    for name in ("Rushabh2704__crypto-volatility", "arianna-m__crypto-volatility-pipeline"):
        if (CAPTURES / name).is_dir():
            return CAPTURES / name
    pytest.skip("no small shared capture present")


def test_cli_replays_a_peer_capture_in_one_command_and_writes_nothing_beside_it(tmp_path: Path) -> None:
    src = tmp_path / "peer" / "data" / "raw"
    shutil.copytree(_small_set(), src)
    before = sorted(p.name for p in src.rglob("*"))
    out = tmp_path / "processed" / "features.parquet"
    result = _glue("replay", "--raw", str(src / "*.ndjson"), "--out", str(out), cwd=tmp_path)
    assert result.returncode == 0, result.stderr
    assert "converted by import rules" in result.stdout
    assert out.is_file() and (out.parent / "labels.parquet").is_file()
    assert sorted(p.name for p in src.rglob("*")) == before  # nothing written beside the input
    kept = tmp_path / "kept"
    result = _glue("replay", "--raw", str(src), "--out", str(tmp_path / "g.parquet"), "--keep-import", str(kept),
                   cwd=tmp_path)
    assert result.returncode == 0, result.stderr
    assert expand_paths([str(kept)]) and all(is_archive_file(p) for p in expand_paths([str(kept)]))
    assert (tmp_path / "g.parquet").read_bytes() == out.read_bytes()


def test_archive_files_are_replayed_as_they_are(tmp_path: Path) -> None:
    from glue.testing import fixtures as fx

    path = tmp_path / "a.ndjson"
    path.write_text("".join(fx.ticker("BTC-USD", (1_767_225_600 + s) * 10**9, "1", "2", seq=s).to_archive_line()
                            + "\n" for s in range(30)))
    _, stats = run_replay([str(path)], None, FeatureSettings())
    assert stats.converted == 0 and "converted" not in stats.line()
    assert stats.rows > 0


def test_a_file_nothing_can_be_read_from_is_one_clear_error(tmp_path: Path) -> None:
    path = tmp_path / "junk.ndjson"
    path.write_text("not json\n{\"x\": 1}\n")
    result = _glue("replay", "--raw", str(path), "--out", str(tmp_path / "f.parquet"), cwd=tmp_path)
    assert result.returncode != 0
    assert "nothing could be converted" in result.stderr
    assert "Traceback" not in result.stderr
