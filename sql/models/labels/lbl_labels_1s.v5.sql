-- lbl_labels_1s (v5: the regime-relative label beside the assignment's)
-- grain: one row per (product_id, second_at).
-- purpose: the two binary spike labels. label: sigma_future_bps >= tau (product row first, else the default
--          row of cfg_label_tau). label_relative: relative_ratio = sigma_future_bps / ref_vol_bps >= k
--          (cfg_label_k likewise), ref_vol_bps the root mean square 1-s return over the trailing 600 s of the
--          same session, (t - 600, t], data at or before t only; none where fewer than 540 of its 600
--          returns are valid (a gap, a session's first ten minutes) or it is zero.
CREATE OR REPLACE VIEW lbl_labels_1s AS
WITH sigma AS (
    SELECT * FROM lbl_sigma_future_1s
),
grid AS (
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
ref_vol AS (
    SELECT
        product_id,
        second_at,
        CASE
            WHEN n_ret_ref >= 540 AND sum_ret2_ref_e18 > 0
            THEN sqrt(CAST(sum_ret2_ref_e18 AS DOUBLE) / n_ret_ref) * 1e-5
        END AS ref_vol_bps
    FROM reference
),
tau_product AS (
    SELECT product_id, max(tau_bps) AS tau_bps
    FROM cfg_label_tau
    WHERE product_id IS NOT NULL
    GROUP BY product_id
),
tau_default AS (
    SELECT max(tau_bps) AS tau_bps
    FROM cfg_label_tau
    WHERE product_id IS NULL
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
),
ratios AS (
    SELECT
        s.*,
        r.ref_vol_bps,
        s.sigma_future_bps / r.ref_vol_bps AS relative_ratio
    FROM sigma AS s
    LEFT JOIN ref_vol AS r ON r.product_id = s.product_id AND r.second_at = s.second_at
)
SELECT
    x.product_id,
    x.second_at,
    x.horizon_s,
    x.has_full_horizon,
    x.has_gap_future,
    x.n_ret_future,
    x.sigma_future_bps,
    coalesce(tp.tau_bps, td.tau_bps) AS tau_bps,
    x.sigma_future_bps >= coalesce(tp.tau_bps, td.tau_bps) AS label,
    x.ref_vol_bps,
    x.relative_ratio,
    coalesce(kp.k, kd.k) AS k,
    x.relative_ratio >= coalesce(kp.k, kd.k) AS label_relative
FROM ratios AS x
LEFT JOIN tau_product AS tp ON tp.product_id = x.product_id
CROSS JOIN tau_default AS td
LEFT JOIN k_product AS kp ON kp.product_id = x.product_id
CROSS JOIN k_default AS kd;
