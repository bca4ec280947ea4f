-- stg_ticker_in / stg_ticker
-- grain: one row per accepted ticker event (land_seq, event_idx, ticker_idx).
-- purpose: typed ticker events with exact DECIMAL prices and the envelope event time.
CREATE OR REPLACE MACRO stg_ticker_in(lo_ns, hi_ns) AS TABLE
WITH landed AS (
    SELECT land_seq, product_key, conn, event_ns, payload
    FROM raw_frames
    WHERE event_ns > lo_ns
      AND event_ns <= hi_ns
      AND product_key <> '_control'
      AND (arrival_wm_ns IS NULL OR event_ns >= arrival_wm_ns)
      AND contains(payload, '"ticker"')  -- cheap superset test before the JSON parse
),
parsed AS (
    SELECT
        land_seq, product_key, conn, event_ns,
        try(from_json(payload, '{"channel":"VARCHAR","sequence_num":"BIGINT","events":[{"type":"VARCHAR","tickers":[{"product_id":"VARCHAR","price":"VARCHAR","best_bid":"VARCHAR","best_ask":"VARCHAR","best_bid_quantity":"VARCHAR","best_ask_quantity":"VARCHAR"}]}]}')) AS msg
    FROM landed
),
ticker_frames AS (
    SELECT land_seq, product_key, conn, event_ns, msg.sequence_num AS sequence_num, msg.events AS events
    FROM parsed
    WHERE msg.channel = 'ticker'
    QUALIFY row_number() OVER (
        PARTITION BY product_key, conn, coalesce(msg.sequence_num, -land_seq), event_ns ORDER BY land_seq
    ) = 1
),
ticker_events AS (
    SELECT land_seq, product_key, event_ns, sequence_num,
           unnest(events) AS ev, generate_subscripts(events, 1) AS event_idx
    FROM ticker_frames
),
tickers AS (
    SELECT land_seq, product_key, event_ns, sequence_num, event_idx, ev.type AS event_type,
           unnest(ev.tickers) AS tk, generate_subscripts(ev.tickers, 1) AS ticker_idx
    FROM ticker_events
)
SELECT
    land_seq,
    event_idx,
    ticker_idx,
    tk.product_id AS product_id,
    event_ns,
    (event_ns + 999999999) // 1000000000 AS second_s,
    sequence_num,
    event_type,
    try_cast(tk.price AS DECIMAL(18, 8)) AS price,
    try_cast(tk.best_bid AS DECIMAL(18, 8)) AS best_bid,
    try_cast(tk.best_ask AS DECIMAL(18, 8)) AS best_ask,
    try_cast(tk.best_bid_quantity AS DECIMAL(18, 8)) AS best_bid_qty,
    try_cast(tk.best_ask_quantity AS DECIMAL(18, 8)) AS best_ask_qty
FROM tickers
WHERE tk.product_id = product_key;
