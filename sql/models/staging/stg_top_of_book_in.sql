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
