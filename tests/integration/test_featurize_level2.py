"""The level2 book end to end: fake exchange (simulated market, a sequence gap) -> glue ingest (re-requests the
level2 snapshots) -> Kafka -> glue featurize (SQL v4 keeps the book), vs glue replay of the archive.

The live rows must equal the replay bit for bit; the gap must have broken each product's book, and the
snapshots ingest asked for must have made it valid again.
"""

from __future__ import annotations

import duckdb
import pytest

from glue.modeling.data import current_sql_version
from glue.replay import replay
from glue.testing.featurize import (
    assert_tables_bitwise_equal,
    featurize_topic,
)
from glue.testing.ingest import (
    LEVEL2_FIRST,
    ExchangeThread,
    ingest_settings,
    resubscribed_then,
    run_ingest_until,
)
from glue.testing.names import unique_name

pytestmark = [pytest.mark.kafka, pytest.mark.slow]


def test_book_breaks_at_a_gap_recovers_from_the_resnapshot_and_live_equals_replay(kafka_bootstrap, tmp_path):
    topic = unique_name("raw")
    with ExchangeThread(faults=["skip_seq:2000:3"], speed=0) as ex:
        ingest = ingest_settings(ex.url, tmp_path, bootstrap=kafka_bootstrap, topic=topic, channels=LEVEL2_FIRST)
        # the resubscribe arrived and 5,000 frames followed: the new snapshots and a stretch of book after them
        summary = run_ingest_until(ingest, resubscribed_then(ex, 5_000), timeout_s=120)
    assert summary.seq_gaps == 1 and summary.l2_resnapshots == 1, "\n".join(summary.lines())

    settings, _, stats, live = featurize_topic(kafka_bootstrap, tmp_path, topic, max_batch_frames=300)
    assert stats.book_breaks >= 2  # the gap broke both products' books

    kept = tmp_path / "replay.duckdb"
    replayed, rstats = replay([str(p) for p in summary.archive_files], None, settings.features,
                              warehouse=str(kept))
    assert_tables_bitwise_equal(live, replayed)
    assert rstats.book_breaks.get("data_gap", 0) >= 2, rstats.book_breaks
    with duckdb.connect(str(kept), read_only=True) as con:
        # the current version, which keeps a level2 book (v4 on)
        assert con.sql("SELECT value FROM ctl_meta WHERE key = 'sql_version'").fetchall() == [(current_sql_version(),)]
        # valid again after the gap: the re-requested snapshots restated each book
        assert con.sql("SELECT product_id, is_valid FROM int_book_state ORDER BY 1").fetchall() == [
            ("BTC-USD", True), ("ETH-USD", True)]
        levels = dict(con.sql("SELECT product_id, count(*) FROM int_book_levels GROUP BY 1").fetchall())
        assert levels["BTC-USD"] > 10 and levels["ETH-USD"] > 10, levels
