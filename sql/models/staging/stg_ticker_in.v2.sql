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
