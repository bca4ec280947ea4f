-- stg_trades_in / stg_trades
-- grain: one row per (product_id, trade_id) first seen, i.e. deduplicated market trades.
-- purpose: typed market trades placed at their envelope event time. A trade is a duplicate when an
--          earlier-landed frame carried the same (product_id, trade_id) with event time at most 600 s
--          before (reconnect snapshots repeat recent trades). Reads 600 s before lo_ns to decide that.
CREATE OR REPLACE MACRO stg_trades_in(lo_ns, hi_ns) AS TABLE
WITH landed AS (
    SELECT land_seq, product_key, conn, event_ns, payload
    FROM raw_frames
    WHERE event_ns > lo_ns - 600000000000
      AND event_ns <= hi_ns
      AND product_key <> '_control'
      AND (arrival_wm_ns IS NULL OR event_ns >= arrival_wm_ns)
      AND contains(payload, '"market_trades"')  -- cheap superset test before the JSON parse
),
parsed AS (
    SELECT
        land_seq, product_key, event_ns,
        try(from_json(payload, '{"channel":"VARCHAR","events":[{"type":"VARCHAR","trades":[{"trade_id":"VARCHAR","product_id":"VARCHAR","price":"VARCHAR","size":"VARCHAR","side":"VARCHAR","time":"VARCHAR"}]}]}')) AS msg
    FROM landed
),
trade_events AS (
    SELECT land_seq, product_key, event_ns, unnest(msg.events) AS ev, generate_subscripts(msg.events, 1) AS event_idx
    FROM parsed
    WHERE msg.channel = 'market_trades'
),
trades AS (
    SELECT land_seq, product_key, event_ns, event_idx, ev.type AS event_type,
           unnest(ev.trades) AS tr, generate_subscripts(ev.trades, 1) AS trade_idx
    FROM trade_events
),
typed AS (
    SELECT
        land_seq, event_idx, trade_idx, tr.product_id AS product_id, tr.trade_id AS trade_id, event_ns,
        (event_ns + 999999999) // 1000000000 AS second_s, event_type,
        try_cast(tr.price AS DECIMAL(18, 8)) AS price,
        try_cast(tr.size AS DECIMAL(18, 8)) AS size,
        upper(tr.side) AS maker_side
    FROM trades
    WHERE tr.product_id = product_key AND tr.trade_id IS NOT NULL
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
WHERE event_ns > lo_ns;
