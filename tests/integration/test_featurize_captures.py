"""Real captures end to end: fake exchange (recording) -> glue ingest -> Kafka -> glue featurize, vs glue replay.

Each real Coinbase capture in ../shared/data/coinbase is imported (glue import), replayed by the fake
exchange as fast as ingest reads, ingested into a fresh topic and archive, then featurized live in small
batches. The live Parquet output must equal `glue replay` of the archive that ingest wrote, bit for bit.
"""

from __future__ import annotations

import pytest

from glue.exchange.server import ExchangeOptions
from glue.importer import import_captures
from glue.records import read_archive
from glue.testing.captures import CAPTURE_SETS, SHARED_CAPTURES
from glue.testing.featurize import (
    assert_tables_bitwise_equal,
    consume_all,
    featurize_topic,
)
from glue.testing.ingest import (
    ExchangeThread,
    count_tickers,
    ingest_settings,
    run_ingest_until,
)
from glue.testing.names import unique_name

SHARED, SETS = SHARED_CAPTURES, CAPTURE_SETS

pytestmark = [pytest.mark.kafka, pytest.mark.slow,
              pytest.mark.skipif(not SETS, reason=f"real captures not present at {SHARED}")]


@pytest.mark.parametrize("name", SETS)
def test_capture_through_ingest_and_featurize_equals_replay(name, kafka_bootstrap, tmp_path):
    from glue.replay import replay

    imported = import_captures([str(SHARED / name)], str(tmp_path / "imported"))
    imported_tickers = count_tickers(r.frame for r in read_archive(imported.archive_files) if r.kind == "frame")
    products = tuple(sorted(set().union(*(f.products for f in imported.files))))
    topic = unique_name("raw")
    with ExchangeThread(source="recording", recording=tuple(imported.archive_files), speed=0, products=products,
                        options=ExchangeOptions()) as ex:
        ingest = ingest_settings(ex.url, tmp_path, bootstrap=kafka_bootstrap, topic=topic, pairs=products,
                                 channels=("ticker",))

        def done() -> bool:
            sent = sum(count_tickers(frames) for frames in list(ex.server.sent.values()))
            return sent >= imported_tickers - 1

        summary = run_ingest_until(ingest, done, timeout_s=300)

    settings, job, _, live = featurize_topic(kafka_bootstrap, tmp_path, topic, max_batch_frames=400)
    replayed, _ = replay([str(p) for p in summary.archive_files], str(tmp_path / "replay.parquet"), settings.features)
    assert_tables_bitwise_equal(live, replayed)
    assert len(consume_all(kafka_bootstrap, job.topic_out)) == live.num_rows
