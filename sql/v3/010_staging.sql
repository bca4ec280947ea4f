-- =====================================================================================================
-- v3 / 010_staging: typed, deduplicated events. The only layer that reads raw_*.
-- v3 changes one rule against v2: a market trade's earlier-landed duplicate is found whatever its event
-- time after t - 600 s (v2 looked only up to the step's hi_ns, so the outcome could depend on batch cuts).
-- Each stg_* is a table macro over an event-time range (lo_ns, hi_ns] (the incremental engine passes the
-- bounded range it needs, so its cost does not grow with history) plus a view over all history.
-- Reads the columns typed at landing (005_landing.sql): no JSON is parsed here.
-- Rules, identical in live and replay because they depend only on data and per-product arrival order:
--   late        a row with event_ns < arrival_wm_ns is dropped (counted by the engine's stats);
--   duplicate   ticker frames with the same (product_key, conn, sequence_num, event_ns) are one frame: the
--               tickers of the first landed are kept;
--   out of order events are ordered by (event_ns, land_seq, position in the frame), never by arrival.
-- level2 (l2_data) frames are landed and kept in raw_frames (they move the product's watermark) but top of
-- book comes from the ticker channel's best_bid/best_ask/quantities, as in v1 and v2.
-- =====================================================================================================

-- stg_ticker_in / stg_ticker
-- grain: one row per accepted ticker event (land_seq, event_idx, ticker_idx).
-- purpose: typed ticker events with exact DECIMAL prices and the envelope event time.
CREATE OR REPLACE MACRO stg_ticker_in(lo_ns, hi_ns) AS TABLE
WITH landed AS (
    SELECT *
    FROM raw_ticker_items
    WHERE event_ns > lo_ns
      AND event_ns <= hi_ns
      AND product_key <> '_control'
      AND (arrival_wm_ns IS NULL OR event_ns >= arrival_wm_ns)
),
first_frames AS (
    SELECT *
    FROM landed
    QUALIFY land_seq = min(land_seq) OVER (
        PARTITION BY product_key, conn, coalesce(sequence_num, -land_seq), event_ns
    )
)
SELECT
    land_seq,
    event_idx,
    ticker_idx,
    product_id,
    event_ns,
    (event_ns + 999999999) // 1000000000 AS second_s,
    sequence_num,
    event_type,
    price,
    best_bid,
    best_ask,
    best_bid_qty,
    best_ask_qty
FROM first_frames;

CREATE OR REPLACE VIEW stg_ticker AS
SELECT * FROM stg_ticker_in(-1, 9223372036854775807);

-- stg_top_of_book_in / stg_top_of_book
-- grain: one row per accepted ticker event (mid_price NULL when it carries no usable price).
-- purpose: best bid/ask, their quantities and the mid; source = the ticker channel (see header).
CREATE OR REPLACE MACRO stg_top_of_book_in(lo_ns, hi_ns) AS TABLE
WITH ticks AS (
    SELECT * FROM stg_ticker_in(lo_ns, hi_ns)
),
typed AS (
    SELECT
        *,
        (best_bid > 0 AND best_ask > 0 AND best_ask >= best_bid) AS is_valid_quote
    FROM ticks
)
SELECT
    land_seq, event_idx, ticker_idx, product_id, event_ns, second_s,
    CASE WHEN is_valid_quote THEN best_bid END AS best_bid,
    CASE WHEN is_valid_quote THEN best_ask END AS best_ask,
    CASE WHEN is_valid_quote THEN best_bid_qty END AS best_bid_qty,
    CASE WHEN is_valid_quote THEN best_ask_qty END AS best_ask_qty,
    price AS last_price,
    CASE
        WHEN is_valid_quote THEN (CAST(best_bid AS DOUBLE) + CAST(best_ask AS DOUBLE)) / 2
        WHEN price > 0 THEN CAST(price AS DOUBLE)
    END AS mid_price
FROM typed;

CREATE OR REPLACE VIEW stg_top_of_book AS
SELECT * FROM stg_top_of_book_in(-1, 9223372036854775807);

-- stg_trades_in / stg_trades
-- grain: one row per (product_id, trade_id) first seen, i.e. deduplicated market trades.
-- purpose: typed market trades placed at their envelope event time. A trade is a duplicate when an
--          earlier-landed frame carried the same (product_id, trade_id) with event time no earlier than
--          600 s before it (reconnect snapshots repeat recent trades; the earlier copy may be stamped later
--          than this one). Candidates are read from 600 s before lo_ns with no upper bound: an earlier-landed
--          copy stamped after hi_ns is already in the warehouse whenever this trade is, so the outcome does
--          not depend on where a step ends; only the output is limited to (lo_ns, hi_ns].
CREATE OR REPLACE MACRO stg_trades_in(lo_ns, hi_ns) AS TABLE
WITH typed AS (
    SELECT
        land_seq, event_idx, trade_idx, product_id, trade_id, event_ns,
        (event_ns + 999999999) // 1000000000 AS second_s, event_type, price, size, maker_side
    FROM raw_trade_items
    WHERE event_ns > lo_ns - 600000000000
      AND product_key <> '_control'
      AND (arrival_wm_ns IS NULL OR event_ns >= arrival_wm_ns)
),
first_seen AS (
    SELECT t.*
    FROM typed AS t
    WHERE NOT EXISTS (
        SELECT 1
        FROM typed AS e
        WHERE e.product_id = t.product_id
          AND e.trade_id = t.trade_id
          AND e.event_ns >= t.event_ns - 600000000000
          AND (e.land_seq, e.event_idx, e.trade_idx) < (t.land_seq, t.event_idx, t.trade_idx)
    )
)
SELECT * FROM first_seen
WHERE event_ns > lo_ns
  AND event_ns <= hi_ns;

CREATE OR REPLACE VIEW stg_trades AS
SELECT * FROM stg_trades_in(-1, 9223372036854775807);

-- stg_gaps_in / stg_gaps
-- grain: one row per landed data_gap marker row (land_seq, product_id).
-- purpose: the effective gap interval (eff_from_ns, to_ns) in exchange time. A marker cannot reopen seconds
--          that were already final when it arrived: eff_from_ns = greatest(from_ns, arrival_wm_ns).
--          Markers keyed '_control' (no product) affect no product. Reads markers overlapping (lo_ns, hi_ns].
CREATE OR REPLACE MACRO stg_gaps_in(lo_ns, hi_ns) AS TABLE
WITH markers AS (
    SELECT
        land_seq, product_key AS product_id, arrival_wm_ns,
        try(from_json(payload, '{"type":"VARCHAR","reason":"VARCHAR","from_ns":"BIGINT","to_ns":"BIGINT"}')) AS m
    FROM raw_markers
    WHERE marker_type = 'data_gap' AND product_key <> '_control'
),
typed AS (
    SELECT
        land_seq, product_id, m.reason AS reason, m.from_ns AS from_ns, m.to_ns AS to_ns,
        greatest(m.from_ns, coalesce(arrival_wm_ns, m.from_ns)) AS eff_from_ns
    FROM markers
    WHERE m.from_ns IS NOT NULL AND m.to_ns IS NOT NULL
)
SELECT * FROM typed
WHERE eff_from_ns < to_ns
  AND to_ns > lo_ns
  AND eff_from_ns < hi_ns;

CREATE OR REPLACE VIEW stg_gaps AS
SELECT * FROM stg_gaps_in(-1, 9223372036854775807);
