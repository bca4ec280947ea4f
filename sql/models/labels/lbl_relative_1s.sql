-- lbl_relative_1s
-- grain: one row per (product_id, second_at) of int_grid_1s.
-- purpose: the regime-relative spike label beside the assignment's (lbl_labels_1s):
--          relative_ratio = sigma_future_bps / ref_vol_bps, label_relative = relative_ratio >= k (product row of
--          cfg_label_k first, else its default row). ref_vol_bps is the root mean square 1-s return over the
--          trailing 600 s of the same session, (t - 600, t]: data at or before t only; none where fewer than
--          540 of its 600 returns are valid (a gap, a session's first ten minutes) or it is zero.
CREATE OR REPLACE VIEW lbl_relative_1s AS
WITH grid AS (
    SELECT product_id, second_s, second_at, session_start_s, cum_n_ret, cum_ret2_e18
    FROM int_grid_1s
),
reference AS (
    SELECT
        n.product_id,
        n.second_at,
        n.cum_n_ret - coalesce(p.cum_n_ret, 0) AS n_ret_ref,
        n.cum_ret2_e18 - coalesce(p.cum_ret2_e18, 0) AS sum_ret2_ref_e18
    FROM grid AS n
    LEFT JOIN grid AS p
      ON p.product_id = n.product_id AND p.second_s = n.second_s - 600 AND p.session_start_s = n.session_start_s
),
ratios AS (
    SELECT
        s.product_id,
        s.second_at,
        s.sigma_future_bps,
        CASE
            WHEN r.n_ret_ref >= 540 AND r.sum_ret2_ref_e18 > 0
            THEN sqrt(CAST(r.sum_ret2_ref_e18 AS DOUBLE) / r.n_ret_ref) * 1e-5
        END AS ref_vol_bps
    FROM lbl_sigma_future_1s AS s
    JOIN reference AS r ON r.product_id = s.product_id AND r.second_at = s.second_at
),
k_product AS (
    SELECT product_id, max(k) AS k
    FROM cfg_label_k
    WHERE product_id IS NOT NULL
    GROUP BY product_id
),
k_default AS (
    SELECT max(k) AS k
    FROM cfg_label_k
    WHERE product_id IS NULL
)
SELECT
    x.product_id,
    x.second_at,
    x.ref_vol_bps,
    x.sigma_future_bps / x.ref_vol_bps AS relative_ratio,
    coalesce(kp.k, kd.k) AS k,
    x.sigma_future_bps / x.ref_vol_bps >= coalesce(kp.k, kd.k) AS label_relative
FROM ratios AS x
LEFT JOIN k_product AS kp ON kp.product_id = x.product_id
CROSS JOIN k_default AS kd;
