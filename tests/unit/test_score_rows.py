"""glue.score without I/O: row decoding, dead-letter reasons, the SQL-version stop, the message shape."""

from __future__ import annotations

import json

import pytest

from glue.errors import ModelError
from glue.score import BadRow, ModelInfo, decode_row, percentile, prediction_message

INFO = ModelInfo(feature_columns=("rv_60s_bps", "has_gap_60s"), threshold=0.5, model_version="m/3", sql_version="v1")


def row(**kw) -> bytes:
    base = {"product_id": "BTC-USD", "second_at": "2026-01-05T00:00:01Z", "sql_version": "v1",
            "rv_60s_bps": 0.4, "has_gap_60s": False, "emitted_at": 123}
    base.update(kw)
    return json.dumps(base).encode()


def test_decodes_a_good_row_with_nulls_and_flags():
    assert decode_row(row(rv_60s_bps=None), INFO)["rv_60s_bps"] is None


@pytest.mark.parametrize(
    ("value", "reason"),
    [
        (b"{not json", "undecodable JSON"),
        (b"[1,2]", "value is not a JSON object"),
        (None, "empty value"),
        (json.dumps({"product_id": "BTC-USD", "second_at": "x", "sql_version": "v1"}).encode(), "missing columns"),
        (row(rv_60s_bps="high"), "column rv_60s_bps is not numeric"),
        (b"\xff\xfe", "undecodable JSON"),
    ],
)
def test_bad_rows_raise_badrow_with_a_reason(value, reason):
    with pytest.raises(BadRow, match=reason):
        decode_row(value, INFO)


def test_sql_version_mismatch_stops_with_a_clear_error():
    with pytest.raises(ModelError, match="SQL version 'v2' but the model was trained on 'v1'"):
        decode_row(row(sql_version="v2"), INFO)


def test_prediction_message_follows_the_contract():
    msg = prediction_message(json.loads(row()), 0.73, INFO, scored_at_ns=999)
    assert set(msg) == {"product_id", "second_at", "probability", "is_spike", "threshold", "model_version",
                        "sql_version", "feature_emitted_at", "scored_at"}
    assert msg["is_spike"] is True and msg["feature_emitted_at"] == 123 and msg["model_version"] == "m/3"
    assert prediction_message(json.loads(row()), 0.49, INFO, 1)["is_spike"] is False


def test_percentile_nearest_rank():
    assert percentile([], 99) == 0.0
    assert percentile([float(i) for i in range(1, 101)], 99) == 99.0
    assert percentile([5.0], 50) == 5.0


def test_published_probability_reaches_the_same_decision_as_is_spike():
    """A consumer comparing the message's probability with its threshold agrees with `is_spike`, also for a
    probability a hair above the threshold (the demo found 0.0741962 published as 0.074196)."""
    info = ModelInfo(feature_columns=("rv_60s_bps",), threshold=0.07419616282565329, model_version="m/1",
                     sql_version="v1")
    for p in (0.0741962, 0.07419616282565329, 0.0741961, 0.5, 0.0):
        msg = json.loads(json.dumps(prediction_message(json.loads(row()), p, info, 1)))
        assert msg["is_spike"] == (msg["probability"] >= msg["threshold"]), p
