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
