"""glue.parquet: the one set of Parquet writer options."""

from __future__ import annotations

import pyarrow as pa
import pyarrow.parquet as pq

from glue.parquet import write_parquet


def _table() -> pa.Table:
    n = 1_000
    return pa.table({
        "product_id": ["BTC-USD", "ETH-USD"] * (n // 2),
        "second_at": pa.array(range(n), pa.int64()).cast(pa.timestamp("us", tz="UTC")),
        "mid_price": [50_000.0 + i / 7 for i in range(n)],
        "trades_10s": pa.array([i % 5 for i in range(n)], pa.int64()),
    })


def test_strings_get_dictionary_pages_numbers_do_not_and_everything_is_zstd(tmp_path):
    path = tmp_path / "f.parquet"
    write_parquet(_table(), path)
    meta = pq.ParquetFile(path).metadata.row_group(0)
    by_name = {meta.column(i).path_in_schema: meta.column(i) for i in range(meta.num_columns)}
    assert {c.compression for c in by_name.values()} == {"ZSTD"}
    assert by_name["product_id"].has_dictionary_page
    assert not any(by_name[c].has_dictionary_page for c in ("second_at", "mid_price", "trades_10s"))
    assert pq.read_table(path).equals(_table())


def test_the_same_table_gives_the_same_bytes(tmp_path):
    write_parquet(_table(), tmp_path / "a.parquet")
    write_parquet(_table(), tmp_path / "b.parquet")
    assert (tmp_path / "a.parquet").read_bytes() == (tmp_path / "b.parquet").read_bytes()
