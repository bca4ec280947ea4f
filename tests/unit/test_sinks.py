"""glue.sinks: every sink of the three stream loops has the protocol's add / flush / close."""

from __future__ import annotations

import inspect

import pyarrow as pa
import pyarrow.parquet as pq
import pytest

from glue.archive import ArchiveWriter
from glue.featurize.sinks import ParquetPartSink, TransactionalKafkaSink
from glue.ingest.sink import IdempotentKafkaSink
from glue.score.sinks import PredictionSink
from glue.sinks import DeadLetterSink, Sink

SINKS = [ArchiveWriter, IdempotentKafkaSink, ParquetPartSink, TransactionalKafkaSink, PredictionSink, DeadLetterSink]


@pytest.mark.parametrize("cls", SINKS, ids=lambda c: c.__name__)
def test_every_sink_has_add_flush_close_and_flush_close_need_no_argument(cls: type) -> None:
    for name in ("add", "flush", "close"):
        method = getattr(cls, name)
        assert callable(method), (cls, name)
        required = [p for p in list(inspect.signature(method).parameters.values())[1:]
                    if p.default is inspect.Parameter.empty and p.kind in (p.POSITIONAL_ONLY, p.POSITIONAL_OR_KEYWORD)]
        if name != "add":
            assert required == [], (cls, name, required)  # the loop calls flush() and close() bare


def test_parquet_part_sink_writes_whole_files_under_their_final_name(tmp_path) -> None:
    sink = ParquetPartSink(tmp_path / "parts")
    assert isinstance(sink, Sink)
    table = pa.table({"product_id": ["BTC-USD"], "x": [1.5]})
    path = sink.add("part-000-000000000001.parquet", table)
    sink.flush()
    again = sink.add("part-000-000000000001.parquet", table)  # a re-export writes the same name, same bytes
    sink.close()
    assert path == again and pq.read_table(path).equals(table)
    assert sorted(p.name for p in (tmp_path / "parts").iterdir()) == ["part-000-000000000001.parquet"]
