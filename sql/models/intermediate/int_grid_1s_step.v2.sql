-- int_grid_1s_step(lo_s, hi_s)
-- grain: one row per (product_id, second_s) for second_s in the ctl_finalize range of each product.
-- purpose: the next grid rows, continuing the carried quote and the prefix sums of the row before from_s.
--          lo_s/hi_s bound all ranges (min from_s, max to_s) so every scan is limited to recent data.
CREATE OR REPLACE MACRO int_grid_1s_step(lo_s, hi_s) AS TABLE
WITH scope AS (
    SELECT product_id, from_s, to_s
    FROM ctl_finalize
),
seconds AS (
    SELECT product_id, unnest(range(from_s, to_s + 1)) AS second_s
    FROM scope
),
book AS (
    -- every accepted ticker event in the scope
    SELECT q.*
    FROM stg_top_of_book_in((lo_s - 1) * 1000000000, hi_s * 1000000000) AS q
    JOIN scope AS s ON s.product_id = q.product_id AND q.second_s BETWEEN s.from_s AND s.to_s
),
per_second AS (
    -- per second: the ticker events, and the last one with a usable mid (latest event time, then landing
    -- order and position in the frame) as the second's observation; one aggregate, no window
    SELECT
        product_id,
        second_s,
        count(*) AS n_ticks,
        arg_max(
            {'event_ns': event_ns, 'best_bid': best_bid, 'best_ask': best_ask, 'best_bid_qty': best_bid_qty,
             'best_ask_qty': best_ask_qty, 'last_price': last_price, 'mid_price': mid_price},
            {'event_ns': event_ns, 'land_seq': land_seq, 'event_idx': event_idx, 'ticker_idx': ticker_idx}
        ) FILTER (WHERE mid_price IS NOT NULL) AS obs
    FROM book
    GROUP BY product_id, second_s
),
trade_counts AS (
    SELECT
        t.product_id, t.second_s, count(*) AS n_trades,
        -- widen before scaling: DECIMAL(18,8) * 1e8 overflows DECIMAL(18) from size 100 on. One trade is
        -- < 1e10 units, so its e8 value is < 1e18 (BIGINT); the per-second sum is HUGEINT.
        sum(CAST(CAST(coalesce(t.size, 0) AS DECIMAL(38, 8)) * 100000000 AS BIGINT)) AS volume_e8
    FROM stg_trades_in((lo_s - 1) * 1000000000, hi_s * 1000000000) AS t
    JOIN scope AS s ON s.product_id = t.product_id AND t.second_s BETWEEN s.from_s AND s.to_s
    GROUP BY ALL
),
gaps AS (
    SELECT g.product_id, g.eff_from_ns, g.to_ns
    FROM stg_gaps_in((lo_s - 1) * 1000000000, hi_s * 1000000000) AS g
    JOIN scope AS s ON s.product_id = g.product_id
),
gap_seconds AS (
    SELECT DISTINCT sec.product_id, sec.second_s
    FROM seconds AS sec
    JOIN gaps AS g
      ON g.product_id = sec.product_id
     AND g.eff_from_ns < sec.second_s * 1000000000
     AND g.to_ns > (sec.second_s - 1) * 1000000000
),
new_rows AS (
    SELECT
        sec.product_id,
        sec.second_s,
        coalesce(ps.n_ticks, 0) AS n_ticks,
        coalesce(trc.n_trades, 0) AS n_trades,
        CAST(coalesce(trc.volume_e8, 0) AS HUGEINT) AS volume_e8,
        ps.obs IS NOT NULL AS has_obs,
        gs.product_id IS NOT NULL AS has_gap,
        ps.obs.event_ns AS obs_event_ns,
        ps.obs.best_bid AS best_bid,
        ps.obs.best_ask AS best_ask,
        ps.obs.best_bid_qty AS best_bid_qty,
        ps.obs.best_ask_qty AS best_ask_qty,
        ps.obs.last_price AS last_price,
        ps.obs.mid_price AS mid_price
    FROM seconds AS sec
    LEFT JOIN per_second AS ps ON ps.product_id = sec.product_id AND ps.second_s = sec.second_s
    LEFT JOIN trade_counts AS trc ON trc.product_id = sec.product_id AND trc.second_s = sec.second_s
    LEFT JOIN gap_seconds AS gs ON gs.product_id = sec.product_id AND gs.second_s = sec.second_s
),
prev_row AS (
    -- the last final row before this step: it seeds the carried quote and the prefix sums
    SELECT g.*
    FROM int_grid_1s AS g
    JOIN scope AS s ON s.product_id = g.product_id AND g.second_s = s.from_s - 1
    WHERE g.second_s BETWEEN lo_s - 1 AND hi_s
),
chain AS (
    -- the previous row acts as an anchor: it carries its quote, or blocks the carry when it had none
    SELECT
        product_id, second_s, FALSE AS is_new, mid_price IS NOT NULL AS has_obs, mid_price IS NULL AS has_gap,
        obs_event_ns, best_bid, best_ask, best_bid_qty, best_ask_qty, last_price, mid_price
    FROM prev_row
    UNION ALL
    SELECT
        product_id, second_s, TRUE AS is_new, has_obs, has_gap,
        obs_event_ns, best_bid, best_ask, best_bid_qty, best_ask_qty, last_price, mid_price
    FROM new_rows
),
anchored AS (
    SELECT
        *,
        max(CASE WHEN has_obs OR has_gap THEN second_s END) OVER (
            PARTITION BY product_id ORDER BY second_s ROWS BETWEEN UNBOUNDED PRECEDING AND CURRENT ROW
        ) AS anchor_s
    FROM chain
),
carried AS (
    SELECT
        a.product_id, a.second_s, a.is_new,
        src.obs_event_ns, src.best_bid, src.best_ask, src.best_bid_qty, src.best_ask_qty, src.last_price,
        src.mid_price
    FROM anchored AS a
    LEFT JOIN chain AS src
      ON src.product_id = a.product_id AND src.second_s = a.anchor_s AND src.has_obs
),
with_returns AS (
    SELECT
        c.*,
        lag(c.mid_price) OVER (PARTITION BY c.product_id ORDER BY c.second_s) AS prev_mid_price,
        lag(c.second_s) OVER (PARTITION BY c.product_id ORDER BY c.second_s) AS prev_second_s
    FROM carried AS c
),
quantised AS (
    SELECT
        n.product_id, n.second_s, n.n_ticks, n.n_trades, n.volume_e8, n.has_obs, n.has_gap,
        r.obs_event_ns, r.best_bid, r.best_ask, r.best_bid_qty, r.best_ask_qty, r.last_price, r.mid_price,
        CASE
            WHEN NOT n.has_gap AND r.prev_second_s = n.second_s - 1 AND r.mid_price > 0 AND r.prev_mid_price > 0
            THEN CAST(round(ln(r.mid_price / r.prev_mid_price) * 1e9) AS BIGINT)
        END AS ret_e9,
        CASE
            WHEN r.best_bid IS NOT NULL AND r.mid_price > 0
            THEN CAST(round(CAST(r.best_ask - r.best_bid AS DOUBLE) / r.mid_price * 1e4 * 1e6) AS BIGINT)
        END AS spread_bps_e6,
        CASE
            -- both quantities >= 0 bounds |imbalance| by 1, so the e9 value always fits a BIGINT
            WHEN r.best_bid_qty >= 0 AND r.best_ask_qty >= 0 AND r.best_bid_qty + r.best_ask_qty > 0
            THEN CAST(round(CAST(r.best_bid_qty - r.best_ask_qty AS DOUBLE)
                            / CAST(r.best_bid_qty + r.best_ask_qty AS DOUBLE) * 1e9) AS BIGINT)
        END AS imbalance_e9
    FROM new_rows AS n
    JOIN with_returns AS r ON r.product_id = n.product_id AND r.second_s = n.second_s AND r.is_new
),
running AS (
    SELECT
        q.*,
        sum(CAST(q.ret_e9 IS NOT NULL AS BIGINT)) OVER w AS run_n_ret,
        sum(CAST(coalesce(q.ret_e9, 0) AS HUGEINT)) OVER w AS run_ret_e9,
        sum(CAST(coalesce(q.ret_e9, 0) AS HUGEINT) * coalesce(q.ret_e9, 0)) OVER w AS run_ret2_e18,
        sum(CAST(q.has_gap AS BIGINT)) OVER w AS run_n_gap,
        sum(q.n_ticks) OVER w AS run_ticks,
        sum(q.n_trades) OVER w AS run_trades,
        sum(q.volume_e8) OVER w AS run_volume_e8,
        sum(CAST(q.spread_bps_e6 IS NOT NULL AS BIGINT)) OVER w AS run_n_spread,
        sum(CAST(coalesce(q.spread_bps_e6, 0) AS HUGEINT)) OVER w AS run_spread_bps_e6,
        sum(CAST(q.imbalance_e9 IS NOT NULL AS BIGINT)) OVER w AS run_n_imbalance,
        sum(CAST(coalesce(q.imbalance_e9, 0) AS HUGEINT)) OVER w AS run_imbalance_e9
    FROM quantised AS q
    WINDOW w AS (PARTITION BY q.product_id ORDER BY q.second_s ROWS BETWEEN UNBOUNDED PRECEDING AND CURRENT ROW)
)
SELECT
    r.product_id,
    r.second_s,
    make_timestamp(r.second_s * 1000000) AS second_at,
    r.n_ticks,
    r.n_trades,
    r.volume_e8,
    r.has_obs,
    r.has_gap,
    r.obs_event_ns,
    r.best_bid,
    r.best_ask,
    r.best_bid_qty,
    r.best_ask_qty,
    r.last_price,
    r.mid_price,
    r.ret_e9,
    r.spread_bps_e6,
    r.imbalance_e9,
    CAST(coalesce(p.cum_n_ret, 0) + r.run_n_ret AS BIGINT) AS cum_n_ret,
    CAST(coalesce(p.cum_ret_e9, 0) + r.run_ret_e9 AS HUGEINT) AS cum_ret_e9,
    CAST(coalesce(p.cum_ret2_e18, 0) + r.run_ret2_e18 AS HUGEINT) AS cum_ret2_e18,
    CAST(coalesce(p.cum_n_gap, 0) + r.run_n_gap AS BIGINT) AS cum_n_gap,
    CAST(coalesce(p.cum_ticks, 0) + r.run_ticks AS BIGINT) AS cum_ticks,
    CAST(coalesce(p.cum_trades, 0) + r.run_trades AS BIGINT) AS cum_trades,
    CAST(coalesce(p.cum_volume_e8, 0) + r.run_volume_e8 AS HUGEINT) AS cum_volume_e8,
    CAST(coalesce(p.cum_n_spread, 0) + r.run_n_spread AS BIGINT) AS cum_n_spread,
    CAST(coalesce(p.cum_spread_bps_e6, 0) + r.run_spread_bps_e6 AS HUGEINT) AS cum_spread_bps_e6,
    CAST(coalesce(p.cum_n_imbalance, 0) + r.run_n_imbalance AS BIGINT) AS cum_n_imbalance,
    CAST(coalesce(p.cum_imbalance_e9, 0) + r.run_imbalance_e9 AS HUGEINT) AS cum_imbalance_e9
FROM running AS r
LEFT JOIN prev_row AS p ON p.product_id = r.product_id;
