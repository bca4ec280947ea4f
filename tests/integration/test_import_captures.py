"""`glue import` on every real capture under ../shared/data/coinbase/ (read in place, never copied)."""

from __future__ import annotations

import hashlib
import json
from pathlib import Path

import pytest

from glue.importer import import_captures
from glue.records import read_archive
from glue.testing.captures import SHARED_CAPTURES

SHARED = SHARED_CAPTURES
SETS = {
    # set dir: (messages in, frames out, duplicates, skipped, products)
    "Rushabh2704__crypto-volatility": (3108, 3108, 0, 0, {"BTC-USD"}),
    "arianna-m__crypto-volatility-pipeline": (5971, 5971, 0, 0, {"BTC-USD"}),
    "streakh__Crypto-Volatility-MLOps-Project": (2500, 2500, 0, 0, {"BTC-USD", "ETH-USD"}),
    "eshitaraj24__crypto-volatility": (5028, 5028, 0, 0, {"BTC-USD", "ETH-USD"}),
    "mel-hsw__cryptoproject-final": (73663, None, None, 0, {"BTC-USD"}),
    "nicolelyu021__detecting_crypto_volatility": (6000, 5996, 0, 4, {"BTC-USD"}),
}

pytestmark = pytest.mark.skipif(not SHARED.is_dir(), reason=f"real captures not present at {SHARED}")


def digest(paths):
    h = hashlib.sha256()
    for p in paths:
        h.update(Path(p).read_bytes())
    return h.hexdigest()


@pytest.mark.parametrize(
    "name", [pytest.param(n, marks=pytest.mark.slow) if n.startswith("mel-") else n for n in sorted(SETS)]
)
def test_every_shared_set_imports(name, tmp_path):
    messages_in, frames_out, duplicates, skipped, products = SETS[name]
    summary = import_captures([str(SHARED / name)], str(tmp_path / "out"))
    assert summary.messages_in == messages_in
    if frames_out is not None:
        assert summary.frames_out == frames_out
    if duplicates is not None:
        assert summary.duplicates == duplicates
    assert sum(summary.skipped().values()) == skipped
    assert summary.frames_out + summary.duplicates + skipped == messages_in
    assert set().union(*(f.products for f in summary.files)) == products
    records = list(read_archive(summary.archive_files))
    frames = [r for r in records if r.kind == "frame"]
    assert len(frames) == summary.frames_out
    assert [r.iseq for r in records] == sorted(r.iseq for r in records)
    # every frame is an Advanced Trade envelope with an exact timestamp and a sequence number
    for r in frames[:200]:
        env = json.loads(r.frame)
        assert env["channel"] in ("ticker", "subscriptions") and isinstance(env["sequence_num"], int)
    # one conn per input file
    assert len({r.conn for r in frames}) == len(summary.files)


@pytest.mark.slow
def test_overlapping_files_are_deduplicated_and_boundaries_marked(tmp_path):
    summary = import_captures([str(SHARED / "mel-hsw__cryptoproject-final")], str(tmp_path / "out"))
    assert summary.duplicates > 0  # the two Nov-30 files overlap for ~30 s
    markers = [r.marker for r in read_archive(summary.archive_files) if r.kind == "marker"]
    gaps = [m for m in markers if m["type"] == "data_gap"]
    # the 1.5 h hole between 03:35 and 05:07 on Dec-06 is marked
    assert any(m["to_ns"] - m["from_ns"] > 3600e9 for m in gaps)
    assert all(m["from_ns"] < m["to_ns"] and m["products"] == ["BTC-USD"] for m in gaps)


def test_import_is_deterministic(tmp_path):
    src = [str(SHARED / "streakh__Crypto-Volatility-MLOps-Project"),
           str(SHARED / "nicolelyu021__detecting_crypto_volatility")]
    a = import_captures(src, str(tmp_path / "a"))
    b = import_captures(src, str(tmp_path / "b"))
    assert [Path(p).name for p in a.archive_files] == [Path(p).name for p in b.archive_files]
    assert digest(a.archive_files) == digest(b.archive_files)


def test_cli_import_prints_summary(tmp_path):
    from click.testing import CliRunner

    from glue.cli import cli

    result = CliRunner().invoke(cli, ["import", str(SHARED / "eshitaraj24__crypto-volatility"), "--out",
                                      str(tmp_path / "o")])
    assert result.exit_code == 0, result.output
    assert "5028 in, 5028 frames out" in result.output
