-- =====================================================================================================
-- v2 / 030_features: trailing features at each final grid second t, from int_grid_1s rows <= t only.
-- A window of w seconds at t covers grid points t-w+1 .. t (event time in (t - w s, t]); every windowed sum is
-- the difference of two exact integer prefix sums (row t minus row t-w, or 0 before the product's first
-- second), converted to DOUBLE only in the final SELECT. Windows: 10, 30, 60, 300 s.
-- =====================================================================================================

-- feat_features_1s_in(lo_s, hi_s) / feat_features_1s
-- grain: one row per (product_id, second_at) of int_grid_1s with second_s in [lo_s, hi_s].
-- purpose: the feature row of docs/contracts.md section 5 (names carry units and windows).
CREATE OR REPLACE MACRO feat_features_1s_in(lo_s, hi_s) AS TABLE
WITH cur AS (
    SELECT *
    FROM int_grid_1s
    WHERE second_s BETWEEN lo_s AND hi_s
),
past AS (
    SELECT
        product_id, second_s, cum_n_ret, cum_ret_e9, cum_ret2_e18, cum_n_gap, cum_ticks, cum_trades,
        cum_volume_e8, cum_n_spread, cum_spread_bps_e6, cum_n_imbalance, cum_imbalance_e9
    FROM int_grid_1s
    WHERE second_s BETWEEN lo_s - 300 AND hi_s - 10
),
windowed AS (
    SELECT
        c.product_id,
        c.second_s,
        c.second_at,
        c.mid_price,
        c.last_price,
        c.best_bid,
        c.best_ask,
        c.best_bid_qty,
        c.best_ask_qty,
        c.obs_event_ns,
        c.has_gap,
        c.n_ticks,
        c.cum_n_ret - coalesce(p10.cum_n_ret, 0) AS d10_n_ret,
        c.cum_ret_e9 - coalesce(p10.cum_ret_e9, 0) AS d10_ret_e9,
        c.cum_ret2_e18 - coalesce(p10.cum_ret2_e18, 0) AS d10_ret2_e18,
        c.cum_n_gap - coalesce(p10.cum_n_gap, 0) AS d10_n_gap,
        c.cum_ticks - coalesce(p10.cum_ticks, 0) AS d10_ticks,
        c.cum_trades - coalesce(p10.cum_trades, 0) AS d10_trades,
        c.cum_volume_e8 - coalesce(p10.cum_volume_e8, 0) AS d10_volume_e8,
        c.cum_n_spread - coalesce(p10.cum_n_spread, 0) AS d10_n_spread,
        c.cum_spread_bps_e6 - coalesce(p10.cum_spread_bps_e6, 0) AS d10_spread_bps_e6,
        c.cum_n_imbalance - coalesce(p10.cum_n_imbalance, 0) AS d10_n_imbalance,
        c.cum_imbalance_e9 - coalesce(p10.cum_imbalance_e9, 0) AS d10_imbalance_e9,
        c.cum_n_ret - coalesce(p30.cum_n_ret, 0) AS d30_n_ret,
        c.cum_ret_e9 - coalesce(p30.cum_ret_e9, 0) AS d30_ret_e9,
        c.cum_ret2_e18 - coalesce(p30.cum_ret2_e18, 0) AS d30_ret2_e18,
        c.cum_n_gap - coalesce(p30.cum_n_gap, 0) AS d30_n_gap,
        c.cum_ticks - coalesce(p30.cum_ticks, 0) AS d30_ticks,
        c.cum_trades - coalesce(p30.cum_trades, 0) AS d30_trades,
        c.cum_volume_e8 - coalesce(p30.cum_volume_e8, 0) AS d30_volume_e8,
        c.cum_n_spread - coalesce(p30.cum_n_spread, 0) AS d30_n_spread,
        c.cum_spread_bps_e6 - coalesce(p30.cum_spread_bps_e6, 0) AS d30_spread_bps_e6,
        c.cum_n_imbalance - coalesce(p30.cum_n_imbalance, 0) AS d30_n_imbalance,
        c.cum_imbalance_e9 - coalesce(p30.cum_imbalance_e9, 0) AS d30_imbalance_e9,
        c.cum_n_ret - coalesce(p60.cum_n_ret, 0) AS d60_n_ret,
        c.cum_ret_e9 - coalesce(p60.cum_ret_e9, 0) AS d60_ret_e9,
        c.cum_ret2_e18 - coalesce(p60.cum_ret2_e18, 0) AS d60_ret2_e18,
        c.cum_n_gap - coalesce(p60.cum_n_gap, 0) AS d60_n_gap,
        c.cum_ticks - coalesce(p60.cum_ticks, 0) AS d60_ticks,
        c.cum_trades - coalesce(p60.cum_trades, 0) AS d60_trades,
        c.cum_volume_e8 - coalesce(p60.cum_volume_e8, 0) AS d60_volume_e8,
        c.cum_n_spread - coalesce(p60.cum_n_spread, 0) AS d60_n_spread,
        c.cum_spread_bps_e6 - coalesce(p60.cum_spread_bps_e6, 0) AS d60_spread_bps_e6,
        c.cum_n_imbalance - coalesce(p60.cum_n_imbalance, 0) AS d60_n_imbalance,
        c.cum_imbalance_e9 - coalesce(p60.cum_imbalance_e9, 0) AS d60_imbalance_e9,
        c.cum_n_ret - coalesce(p300.cum_n_ret, 0) AS d300_n_ret,
        c.cum_ret_e9 - coalesce(p300.cum_ret_e9, 0) AS d300_ret_e9,
        c.cum_ret2_e18 - coalesce(p300.cum_ret2_e18, 0) AS d300_ret2_e18,
        c.cum_n_gap - coalesce(p300.cum_n_gap, 0) AS d300_n_gap,
        c.cum_ticks - coalesce(p300.cum_ticks, 0) AS d300_ticks,
        c.cum_trades - coalesce(p300.cum_trades, 0) AS d300_trades,
        c.cum_volume_e8 - coalesce(p300.cum_volume_e8, 0) AS d300_volume_e8,
        c.cum_n_spread - coalesce(p300.cum_n_spread, 0) AS d300_n_spread,
        c.cum_spread_bps_e6 - coalesce(p300.cum_spread_bps_e6, 0) AS d300_spread_bps_e6,
        c.cum_n_imbalance - coalesce(p300.cum_n_imbalance, 0) AS d300_n_imbalance,
        c.cum_imbalance_e9 - coalesce(p300.cum_imbalance_e9, 0) AS d300_imbalance_e9
    FROM cur AS c
    LEFT JOIN past AS p10 ON p10.product_id = c.product_id AND p10.second_s = c.second_s - 10
    LEFT JOIN past AS p30 ON p30.product_id = c.product_id AND p30.second_s = c.second_s - 30
    LEFT JOIN past AS p60 ON p60.product_id = c.product_id AND p60.second_s = c.second_s - 60
    LEFT JOIN past AS p300 ON p300.product_id = c.product_id AND p300.second_s = c.second_s - 300
)
SELECT
    product_id,
    second_at,
    (SELECT value FROM ctl_meta WHERE key = 'sql_version') AS sql_version,
    mid_price,
    CAST(last_price AS DOUBLE) AS last_price,
    CAST(best_ask - best_bid AS DOUBLE) AS spread_abs,
    CAST(best_ask - best_bid AS DOUBLE) / mid_price * 1e4 AS spread_bps,
    -- the same rule as int_grid_1s.imbalance_e9: quantities >= 0, so imbalance is in [-1, 1]
    CASE WHEN best_bid_qty >= 0 AND best_ask_qty >= 0 AND best_bid_qty + best_ask_qty > 0
         THEN CAST(best_bid_qty - best_ask_qty AS DOUBLE) / CAST(best_bid_qty + best_ask_qty AS DOUBLE) END AS imbalance,
    CAST(best_bid_qty AS DOUBLE) AS best_bid_qty,
    CAST(best_ask_qty AS DOUBLE) AS best_ask_qty,
    CAST(second_s * 1000000000 - obs_event_ns AS DOUBLE) / 1e9 AS quote_age_s,
    n_ticks AS ticks_1s,
    has_gap AS has_gap_1s,
    d10_n_ret AS n_ret_10s,
    CAST(d10_ret_e9 AS DOUBLE) * 1e-5 AS ret_10s_bps,
    sqrt(CAST(d10_ret2_e18 AS DOUBLE)) * 1e-5 AS rv_10s_bps,
    CASE WHEN d10_n_ret > 0 THEN sqrt(CAST(greatest(d10_n_ret * d10_ret2_e18 - d10_ret_e9 * d10_ret_e9, 0) AS DOUBLE)) / d10_n_ret * 1e-5 END AS vol_10s_bps,
    CASE WHEN d10_n_spread > 0 THEN CAST(d10_spread_bps_e6 AS DOUBLE) / d10_n_spread * 1e-6 END AS spread_mean_10s_bps,
    CASE WHEN d10_n_imbalance > 0 THEN CAST(d10_imbalance_e9 AS DOUBLE) / d10_n_imbalance * 1e-9 END AS imbalance_mean_10s,
    d10_ticks AS ticks_10s,
    CAST(d10_ticks AS DOUBLE) / 10 AS ticks_per_s_10s,
    d10_trades AS trades_10s,
    CAST(d10_trades AS DOUBLE) / 10 AS trades_per_s_10s,
    CAST(d10_volume_e8 AS DOUBLE) * 1e-8 AS volume_10s,
    CAST(d10_volume_e8 AS DOUBLE) * 1e-8 / 10 AS volume_per_s_10s,
    d10_n_gap > 0 AS has_gap_10s,
    d30_n_ret AS n_ret_30s,
    CAST(d30_ret_e9 AS DOUBLE) * 1e-5 AS ret_30s_bps,
    sqrt(CAST(d30_ret2_e18 AS DOUBLE)) * 1e-5 AS rv_30s_bps,
    CASE WHEN d30_n_ret > 0 THEN sqrt(CAST(greatest(d30_n_ret * d30_ret2_e18 - d30_ret_e9 * d30_ret_e9, 0) AS DOUBLE)) / d30_n_ret * 1e-5 END AS vol_30s_bps,
    CASE WHEN d30_n_spread > 0 THEN CAST(d30_spread_bps_e6 AS DOUBLE) / d30_n_spread * 1e-6 END AS spread_mean_30s_bps,
    CASE WHEN d30_n_imbalance > 0 THEN CAST(d30_imbalance_e9 AS DOUBLE) / d30_n_imbalance * 1e-9 END AS imbalance_mean_30s,
    d30_ticks AS ticks_30s,
    CAST(d30_ticks AS DOUBLE) / 30 AS ticks_per_s_30s,
    d30_trades AS trades_30s,
    CAST(d30_trades AS DOUBLE) / 30 AS trades_per_s_30s,
    CAST(d30_volume_e8 AS DOUBLE) * 1e-8 AS volume_30s,
    CAST(d30_volume_e8 AS DOUBLE) * 1e-8 / 30 AS volume_per_s_30s,
    d30_n_gap > 0 AS has_gap_30s,
    d60_n_ret AS n_ret_60s,
    CAST(d60_ret_e9 AS DOUBLE) * 1e-5 AS ret_60s_bps,
    sqrt(CAST(d60_ret2_e18 AS DOUBLE)) * 1e-5 AS rv_60s_bps,
    CASE WHEN d60_n_ret > 0 THEN sqrt(CAST(greatest(d60_n_ret * d60_ret2_e18 - d60_ret_e9 * d60_ret_e9, 0) AS DOUBLE)) / d60_n_ret * 1e-5 END AS vol_60s_bps,
    CASE WHEN d60_n_spread > 0 THEN CAST(d60_spread_bps_e6 AS DOUBLE) / d60_n_spread * 1e-6 END AS spread_mean_60s_bps,
    CASE WHEN d60_n_imbalance > 0 THEN CAST(d60_imbalance_e9 AS DOUBLE) / d60_n_imbalance * 1e-9 END AS imbalance_mean_60s,
    d60_ticks AS ticks_60s,
    CAST(d60_ticks AS DOUBLE) / 60 AS ticks_per_s_60s,
    d60_trades AS trades_60s,
    CAST(d60_trades AS DOUBLE) / 60 AS trades_per_s_60s,
    CAST(d60_volume_e8 AS DOUBLE) * 1e-8 AS volume_60s,
    CAST(d60_volume_e8 AS DOUBLE) * 1e-8 / 60 AS volume_per_s_60s,
    d60_n_gap > 0 AS has_gap_60s,
    d300_n_ret AS n_ret_300s,
    CAST(d300_ret_e9 AS DOUBLE) * 1e-5 AS ret_300s_bps,
    sqrt(CAST(d300_ret2_e18 AS DOUBLE)) * 1e-5 AS rv_300s_bps,
    CASE WHEN d300_n_ret > 0 THEN sqrt(CAST(greatest(d300_n_ret * d300_ret2_e18 - d300_ret_e9 * d300_ret_e9, 0) AS DOUBLE)) / d300_n_ret * 1e-5 END AS vol_300s_bps,
    CASE WHEN d300_n_spread > 0 THEN CAST(d300_spread_bps_e6 AS DOUBLE) / d300_n_spread * 1e-6 END AS spread_mean_300s_bps,
    CASE WHEN d300_n_imbalance > 0 THEN CAST(d300_imbalance_e9 AS DOUBLE) / d300_n_imbalance * 1e-9 END AS imbalance_mean_300s,
    d300_ticks AS ticks_300s,
    CAST(d300_ticks AS DOUBLE) / 300 AS ticks_per_s_300s,
    d300_trades AS trades_300s,
    CAST(d300_trades AS DOUBLE) / 300 AS trades_per_s_300s,
    CAST(d300_volume_e8 AS DOUBLE) * 1e-8 AS volume_300s,
    CAST(d300_volume_e8 AS DOUBLE) * 1e-8 / 300 AS volume_per_s_300s,
    d300_n_gap > 0 AS has_gap_300s
FROM windowed;

CREATE OR REPLACE VIEW feat_features_1s AS
SELECT * FROM feat_features_1s_in(-1, 253402300799);
