-- int_grid_1s_step(lo_s, hi_s) (v5: sessions)
-- grain: one row per (product_id, second_s) for second_s in the ctl_finalize range of each product, except
--        the seconds of a hole (covered whole by one data_gap interval) that hold no data.
-- purpose: the next grid rows. The kept seconds come from interval arithmetic (the range minus the holes),
--          so a hole of a month costs no rows and no work. A row whose previous second has no row starts a
--          session: no quote carried into it, no return, prefix sums from zero, and, after a hole, has_gap.
--          Otherwise the rows continue the carried quote, the session and the prefix sums of the row before
--          from_s. lo_s/hi_s bound all ranges (min from_s, max to_s) so every scan is limited to recent data.
CREATE OR REPLACE MACRO int_grid_1s_step(lo_s, hi_s) AS TABLE
WITH scope AS (
    SELECT product_id, from_s, to_s
    FROM ctl_finalize
),
gaps AS (
    -- from lo_s - 2: a hole that ends at from_s - 1 makes from_s a session start after a hole
    SELECT g.product_id, g.eff_from_ns, g.to_ns
    FROM stg_gaps_in((lo_s - 2) * 1000000000, hi_s * 1000000000) AS g
    JOIN scope AS s ON s.product_id = g.product_id
),
holes AS (
    -- the seconds one gap covers whole: (t - 1) * 1e9 >= eff_from_ns and t * 1e9 <= to_ns (ns are >= 0, so
    -- integer division is floor); a second covered only by two gaps together keeps its row (has_gap)
    SELECT product_id, (eff_from_ns + 999999999) // 1000000000 + 1 AS hole_from_s, to_ns // 1000000000 AS hole_to_s
    FROM gaps
    WHERE (eff_from_ns + 999999999) // 1000000000 + 1 <= to_ns // 1000000000
),
scope_holes AS (
    -- the holes within each product's range, in order, with the furthest end of any earlier one
    SELECT
        h.product_id,
        greatest(h.hole_from_s, s.from_s) AS hole_from_s,
        least(h.hole_to_s, s.to_s) AS hole_to_s,
        max(least(h.hole_to_s, s.to_s)) OVER (
            PARTITION BY h.product_id ORDER BY greatest(h.hole_from_s, s.from_s), least(h.hole_to_s, s.to_s)
            ROWS BETWEEN UNBOUNDED PRECEDING AND 1 PRECEDING
        ) AS before_to_s
    FROM holes AS h
    JOIN scope AS s ON s.product_id = h.product_id
    WHERE h.hole_from_s <= s.to_s AND h.hole_to_s >= s.from_s
),
merged_holes AS (
    -- overlapping or adjacent holes as one: a new island starts past the end of every earlier hole
    SELECT product_id, min(hole_from_s) AS hole_from_s, max(hole_to_s) AS hole_to_s
    FROM (
        SELECT
            *,
            sum(CASE WHEN before_to_s IS NULL OR hole_from_s > before_to_s + 1 THEN 1 ELSE 0 END) OVER (
                PARTITION BY product_id ORDER BY hole_from_s, hole_to_s
                ROWS BETWEEN UNBOUNDED PRECEDING AND CURRENT ROW
            ) AS island
        FROM scope_holes
    )
    GROUP BY product_id, island
),
runs AS (
    -- the kept runs of seconds: before each hole (from the end of the one before), then after the last hole
    SELECT
        h.product_id,
        coalesce(lag(h.hole_to_s) OVER (PARTITION BY h.product_id ORDER BY h.hole_from_s) + 1, s.from_s)
            AS run_from_s,
        h.hole_from_s - 1 AS run_to_s
    FROM merged_holes AS h
    JOIN scope AS s ON s.product_id = h.product_id
    UNION ALL
    SELECT s.product_id, coalesce(max(h.hole_to_s) + 1, s.from_s) AS run_from_s, s.to_s AS run_to_s
    FROM scope AS s
    LEFT JOIN merged_holes AS h ON h.product_id = s.product_id
    GROUP BY s.product_id, s.from_s, s.to_s
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
book_tops AS (
    -- the level2 book's top at each second's end (the engine's fold, this step), where it is a usable quote
    SELECT
        b.product_id, b.second_s, b.changed_ns,
        CAST(CAST(b.best_bid_e8 AS DECIMAL(18, 0)) * CAST(0.00000001 AS DECIMAL(18, 8)) AS DECIMAL(18, 8)) AS best_bid,
        CAST(CAST(b.best_ask_e8 AS DECIMAL(18, 0)) * CAST(0.00000001 AS DECIMAL(18, 8)) AS DECIMAL(18, 8)) AS best_ask,
        CAST(CAST(b.best_bid_qty_e8 AS DECIMAL(18, 0)) * CAST(0.00000001 AS DECIMAL(18, 8)) AS DECIMAL(18, 8))
            AS best_bid_qty,
        CAST(CAST(b.best_ask_qty_e8 AS DECIMAL(18, 0)) * CAST(0.00000001 AS DECIMAL(18, 8)) AS DECIMAL(18, 8))
            AS best_ask_qty
    FROM int_book_1s_step AS b
    JOIN scope AS s ON s.product_id = b.product_id AND b.second_s BETWEEN s.from_s AND s.to_s
    WHERE b.best_bid_e8 > 0 AND b.best_ask_e8 >= b.best_bid_e8
),
seconds AS (
    -- the kept runs, and any second that holds data even inside a hole (nothing landed is dropped)
    SELECT product_id, unnest(range(run_from_s, run_to_s + 1)) AS second_s
    FROM runs
    WHERE run_from_s <= run_to_s
    UNION
    SELECT product_id, second_s FROM per_second
    UNION
    SELECT product_id, second_s FROM trade_counts
    UNION
    SELECT product_id, second_s FROM book_tops
),
gap_seconds AS (
    SELECT DISTINCT sec.product_id, sec.second_s
    FROM seconds AS sec
    JOIN gaps AS g
      ON g.product_id = sec.product_id
     AND g.eff_from_ns < sec.second_s * 1000000000
     AND g.to_ns > (sec.second_s - 1) * 1000000000
),
prev_row AS (
    -- the last final row before this step when it is the second just before from_s (else a session starts)
    SELECT g.*
    FROM int_grid_1s AS g
    JOIN scope AS s ON s.product_id = g.product_id AND g.second_s = s.from_s - 1
    WHERE g.second_s BETWEEN lo_s - 1 AND hi_s
),
sessions AS (
    -- a second starts a session when the second before it has no row: not in this step and not prev_row
    SELECT
        sec.product_id,
        sec.second_s,
        coalesce(
            lag(sec.second_s) OVER (PARTITION BY sec.product_id ORDER BY sec.second_s),
            p.second_s
        ) IS DISTINCT FROM sec.second_s - 1 AS is_session_start
    FROM seconds AS sec
    LEFT JOIN prev_row AS p ON p.product_id = sec.product_id
),
session_rows AS (
    SELECT
        ss.product_id,
        ss.second_s,
        ss.is_session_start,
        -- after a hole (the second before is covered whole by a gap), not at the product's first second
        ss.is_session_start AND EXISTS (
            SELECT 1 FROM holes AS h
            WHERE h.product_id = ss.product_id AND ss.second_s - 1 BETWEEN h.hole_from_s AND h.hole_to_s
        ) AS after_hole,
        coalesce(
            max(CASE WHEN ss.is_session_start THEN ss.second_s END) OVER (
                PARTITION BY ss.product_id ORDER BY ss.second_s ROWS BETWEEN UNBOUNDED PRECEDING AND CURRENT ROW
            ),
            p.session_start_s
        ) AS session_start_s
    FROM sessions AS ss
    LEFT JOIN prev_row AS p ON p.product_id = ss.product_id
),
new_rows AS (
    SELECT
        sec.product_id,
        sec.second_s,
        sec.session_start_s,
        sec.is_session_start,
        coalesce(ps.n_ticks, 0) AS n_ticks,
        coalesce(trc.n_trades, 0) AS n_trades,
        CAST(coalesce(trc.volume_e8, 0) AS HUGEINT) AS volume_e8,
        ps.obs IS NOT NULL OR bt.product_id IS NOT NULL AS has_obs,
        ps.obs IS NOT NULL AS has_ticker_obs,
        gs.product_id IS NOT NULL OR sec.after_hole AS has_gap,
        CASE WHEN bt.product_id IS NOT NULL THEN bt.changed_ns ELSE ps.obs.event_ns END AS obs_event_ns,
        CASE WHEN bt.product_id IS NOT NULL THEN bt.best_bid ELSE ps.obs.best_bid END AS best_bid,
        CASE WHEN bt.product_id IS NOT NULL THEN bt.best_ask ELSE ps.obs.best_ask END AS best_ask,
        CASE WHEN bt.product_id IS NOT NULL THEN bt.best_bid_qty ELSE ps.obs.best_bid_qty END AS best_bid_qty,
        CASE WHEN bt.product_id IS NOT NULL THEN bt.best_ask_qty ELSE ps.obs.best_ask_qty END AS best_ask_qty,
        ps.obs.last_price AS last_price,
        CASE
            WHEN bt.product_id IS NOT NULL THEN (CAST(bt.best_bid AS DOUBLE) + CAST(bt.best_ask AS DOUBLE)) / 2
            ELSE ps.obs.mid_price
        END AS mid_price
    FROM session_rows AS sec
    LEFT JOIN per_second AS ps ON ps.product_id = sec.product_id AND ps.second_s = sec.second_s
    LEFT JOIN book_tops AS bt ON bt.product_id = sec.product_id AND bt.second_s = sec.second_s
    LEFT JOIN trade_counts AS trc ON trc.product_id = sec.product_id AND trc.second_s = sec.second_s
    LEFT JOIN gap_seconds AS gs ON gs.product_id = sec.product_id AND gs.second_s = sec.second_s
),
chain AS (
    -- the previous row acts as an anchor: it carries its quote and its last price, or blocks the carry of
    -- the quote when it had none. Two carries: the quote (from a ticker or the book) and the ticker's last
    -- price (the book has none); with ticker data only they coincide (v3's single carry).
    SELECT
        product_id, second_s, FALSE AS is_new, mid_price IS NOT NULL AS has_obs, TRUE AS has_price,
        mid_price IS NULL AS has_gap, obs_event_ns, best_bid, best_ask, best_bid_qty, best_ask_qty, last_price,
        mid_price
    FROM prev_row
    UNION ALL
    SELECT
        -- a session start blocks both carries (the quote before a hole is not the quote after it)
        product_id, second_s, TRUE AS is_new, has_obs, has_ticker_obs AS has_price, has_gap OR is_session_start,
        obs_event_ns, best_bid, best_ask, best_bid_qty, best_ask_qty, last_price, mid_price
    FROM new_rows
),
anchored AS (
    SELECT
        *,
        max(CASE WHEN has_obs OR has_gap THEN second_s END) OVER w AS anchor_s,
        max(CASE WHEN has_price OR has_gap THEN second_s END) OVER w AS price_anchor_s
    FROM chain
    WINDOW w AS (PARTITION BY product_id ORDER BY second_s ROWS BETWEEN UNBOUNDED PRECEDING AND CURRENT ROW)
),
carried AS (
    SELECT
        a.product_id, a.second_s, a.is_new,
        src.obs_event_ns, src.best_bid, src.best_ask, src.best_bid_qty, src.best_ask_qty, psrc.last_price,
        src.mid_price
    FROM anchored AS a
    LEFT JOIN chain AS src
      ON src.product_id = a.product_id AND src.second_s = a.anchor_s AND src.has_obs
    LEFT JOIN chain AS psrc
      ON psrc.product_id = a.product_id AND psrc.second_s = a.price_anchor_s AND psrc.has_price
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
        n.product_id, n.second_s, n.session_start_s, n.n_ticks, n.n_trades, n.volume_e8, n.has_obs, n.has_gap,
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
    WINDOW w AS (
        PARTITION BY q.product_id, q.session_start_s ORDER BY q.second_s
        ROWS BETWEEN UNBOUNDED PRECEDING AND CURRENT ROW
    )
)
SELECT
    r.product_id,
    r.second_s,
    make_timestamp(r.second_s * 1000000) AS second_at,
    r.session_start_s,
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
-- the sums continue the row before only inside its session
LEFT JOIN prev_row AS p ON p.product_id = r.product_id AND p.session_start_s = r.session_start_s;
