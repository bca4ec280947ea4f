-- raw_land_ticker_items()
-- grain: one row per ticker of a landed `ticker` frame whose product_id is the row's product_key.
-- purpose: the rows of raw_ticker_items for the landing in raw_landing_rows (single-ticker frames were typed in
--          raw_land_rows; other shapes are parsed here, ticker by ticker, with the same field rules).
CREATE OR REPLACE MACRO raw_land_ticker_items() AS TABLE
WITH simple AS (
    SELECT
        m.land_seq, 1 AS event_idx, 1 AS ticker_idx, r.product_key, r.conn, r.event_ns, m.arrival_wm_ns,
        r.sequence_num, r.t_event_type AS event_type, r.t_product_id AS product_id, r.t_price AS price,
        r.t_best_bid AS best_bid, r.t_best_ask AS best_ask, r.t_best_bid_qty AS best_bid_qty,
        r.t_best_ask_qty AS best_ask_qty
    FROM raw_landing_rows AS r
    JOIN raw_landing_marks AS m ON m.rid = r.rowid
    WHERE r.kind = 'frame' AND r.channel = 'ticker' AND r.is_simple AND r.t_product_id = r.product_key
),
other_frames AS (
    SELECT m.land_seq, r.product_key, r.conn, r.event_ns, m.arrival_wm_ns, r.sequence_num, r.frame
    FROM raw_landing_rows AS r
    JOIN raw_landing_marks AS m ON m.rid = r.rowid
    WHERE r.kind = 'frame' AND r.channel = 'ticker' AND NOT r.is_simple
),
events AS (
    SELECT
        * EXCLUDE (frame, evs),
        unnest(evs) AS ev, generate_subscripts(evs, 1) AS event_idx
    FROM (SELECT *, json_extract(frame, '$.events[*]') AS evs FROM other_frames)
),
tickers AS (
    SELECT
        * EXCLUDE (ev, tks),
        json_extract_string(ev, '$.type') AS event_type,
        unnest(tks) AS tk, generate_subscripts(tks, 1) AS ticker_idx
    FROM (SELECT *, json_extract(ev, '$.tickers[*]') AS tks FROM events)
),
fields AS (
    SELECT
        *,
        json_extract(tk, ['$.product_id', '$.price', '$.best_bid', '$.best_ask', '$.best_bid_quantity',
                          '$.best_ask_quantity']) AS f
    FROM tickers
),
general AS (
    SELECT
        land_seq, event_idx, ticker_idx, product_key, conn, event_ns, arrival_wm_ns, sequence_num, event_type,
        raw_json_text(f[1]) AS product_id, raw_json_decimal(f[2]) AS price, raw_json_decimal(f[3]) AS best_bid,
        raw_json_decimal(f[4]) AS best_ask, raw_json_decimal(f[5]) AS best_bid_qty,
        raw_json_decimal(f[6]) AS best_ask_qty
    FROM fields
    WHERE raw_json_text(f[1]) = product_key
)
SELECT * FROM simple
UNION ALL
SELECT * FROM general;
