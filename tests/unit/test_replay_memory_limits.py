"""Replay's memory follows the data: DuckDB's per-line read limit from the longest line, its memory limit from
the archive's size (glue.warehouse.sql_landing.max_object_size, glue.replay.auto_memory_limit)."""

from __future__ import annotations

from pathlib import Path

from glue.replay import MIN_MEMORY_LIMIT_MB, auto_memory_limit
from glue.warehouse import sql_landing
from glue.warehouse.sql_landing import MAX_OBJECT_SIZE, MIN_OBJECT_SIZE, max_object_size


def _file(path: Path, line_bytes: int, lines: int = 3) -> str:
    path.write_bytes((b"x" * (line_bytes - 1) + b"\n") * lines)
    return str(path)


def test_the_line_limit_is_the_next_power_of_two_above_the_longest_line(tmp_path: Path) -> None:
    small = _file(tmp_path / "a.ndjson", 900)
    assert max_object_size([small]) == MIN_OBJECT_SIZE
    big = _file(tmp_path / "b.ndjson", 3 * 2**20, lines=1)  # a level2 snapshot of 3 MB
    assert max_object_size([small, big]) == 4 * 2**20
    exact = _file(tmp_path / "c.ndjson", 2**21, lines=1)  # a line of exactly 2 MB needs the next size up
    assert max_object_size([exact]) == 4 * 2**20
    assert max_object_size([]) == MIN_OBJECT_SIZE


def test_large_inputs_are_not_scanned(tmp_path: Path, monkeypatch) -> None:
    small = _file(tmp_path / "a.ndjson", 900)
    monkeypatch.setattr(sql_landing, "SCAN_BYTES", 100)
    assert max_object_size([small]) == MAX_OBJECT_SIZE


def test_the_memory_limit_follows_the_archive_size(tmp_path: Path) -> None:
    small = _file(tmp_path / "a.ndjson", 1000)
    assert auto_memory_limit([small]) == f"{MIN_MEMORY_LIMIT_MB}MB"
    mid = tmp_path / "m.ndjson"
    with open(mid, "wb") as fh:
        fh.truncate(200 * 2**20)  # sparse: 200 MB of archive
    assert auto_memory_limit([str(mid)]) == "400MB"
    assert auto_memory_limit([str(mid)][:0]) == f"{MIN_MEMORY_LIMIT_MB}MB"
    assert auto_memory_limit([str(mid), str(mid), str(mid), str(tmp_path)]) == "512MB"  # capped; a dir counts 0
