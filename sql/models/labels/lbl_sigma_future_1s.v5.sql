-- lbl_sigma_future_1s (v5: sessions)
-- grain: one row per (product_id, second_at) of int_grid_1s.
-- purpose: the forward realised volatility over the next 60 s and whether its horizon is complete: the
--          horizon (t, t + 60] must lie in t's session (no label across a hole or a session's end).
CREATE OR REPLACE VIEW lbl_sigma_future_1s AS
WITH now_rows AS (
    SELECT product_id, second_s, second_at, session_start_s, cum_n_ret, cum_ret_e9, cum_ret2_e18, cum_n_gap
    FROM int_grid_1s
),
horizon AS (
    SELECT
        n.product_id,
        n.second_s,
        n.second_at,
        h.second_s IS NOT NULL AS has_full_horizon,
        h.cum_n_ret - n.cum_n_ret AS n_ret_future,
        h.cum_ret_e9 - n.cum_ret_e9 AS sum_ret_e9,
        h.cum_ret2_e18 - n.cum_ret2_e18 AS sum_ret2_e18,
        h.cum_n_gap - n.cum_n_gap AS n_gap_future
    FROM now_rows AS n
    LEFT JOIN now_rows AS h
      ON h.product_id = n.product_id AND h.second_s = n.second_s + 60 AND h.session_start_s = n.session_start_s
)
SELECT
    product_id,
    second_at,
    60 AS horizon_s,
    has_full_horizon,
    coalesce(n_gap_future > 0, FALSE) AS has_gap_future,
    n_ret_future,
    CASE
        WHEN n_ret_future = 60
        THEN sqrt(CAST(greatest(60 * sum_ret2_e18 - sum_ret_e9 * sum_ret_e9, 0) AS DOUBLE)) / 60 * 1e-5
    END AS sigma_future_bps
FROM horizon;
