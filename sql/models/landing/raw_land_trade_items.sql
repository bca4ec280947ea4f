-- raw_land_trade_items()
-- grain: one row per trade (with a trade_id) of a landed `market_trades` frame, for its own product_key.
-- purpose: the rows of raw_trade_items for the landing in raw_landing_rows.
CREATE OR REPLACE MACRO raw_land_trade_items() AS TABLE
WITH trade_frames AS (
    SELECT m.land_seq, r.product_key, r.event_ns, m.arrival_wm_ns, r.frame
    FROM raw_landing_rows AS r
    JOIN raw_landing_marks AS m ON m.rid = r.rowid
    WHERE r.kind = 'frame' AND r.channel = 'market_trades'
),
events AS (
    SELECT
        * EXCLUDE (frame, evs),
        unnest(evs) AS ev, generate_subscripts(evs, 1) AS event_idx
    FROM (SELECT *, json_extract(frame, '$.events[*]') AS evs FROM trade_frames)
),
trades AS (
    SELECT
        * EXCLUDE (ev, trs),
        json_extract_string(ev, '$.type') AS event_type,
        unnest(trs) AS tr, generate_subscripts(trs, 1) AS trade_idx
    FROM (SELECT *, json_extract(ev, '$.trades[*]') AS trs FROM events)
),
fields AS (
    SELECT *, json_extract(tr, ['$.product_id', '$.trade_id', '$.price', '$.size', '$.side']) AS f
    FROM trades
)
SELECT
    land_seq, event_idx, trade_idx, product_key, event_ns, arrival_wm_ns, event_type,
    raw_json_text(f[1]) AS product_id,
    raw_json_scalar(f[2]) AS trade_id,
    raw_json_decimal(f[3]) AS price,
    raw_json_decimal(f[4]) AS size,
    upper(raw_json_scalar(f[5])) AS maker_side
FROM fields
WHERE raw_json_text(f[1]) = product_key
  AND f[2] IS NOT NULL AND f[2] <> 'null';
