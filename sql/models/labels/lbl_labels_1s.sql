-- lbl_labels_1s
-- grain: one row per (product_id, second_at).
-- purpose: the binary spike label against the supplied tau (product row first, else the default row).
CREATE OR REPLACE VIEW lbl_labels_1s AS
WITH sigma AS (
    SELECT * FROM lbl_sigma_future_1s
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
)
SELECT
    s.product_id,
    s.second_at,
    s.horizon_s,
    s.has_full_horizon,
    s.has_gap_future,
    s.n_ret_future,
    s.sigma_future_bps,
    coalesce(tp.tau_bps, td.tau_bps) AS tau_bps,
    s.sigma_future_bps >= coalesce(tp.tau_bps, td.tau_bps) AS label
FROM sigma AS s
LEFT JOIN tau_product AS tp ON tp.product_id = s.product_id
CROSS JOIN tau_default AS td;
