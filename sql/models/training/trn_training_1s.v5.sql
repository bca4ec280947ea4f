-- trn_training_1s (v5: both labels)
-- grain: one row per (product_id, second_at) of the whole warehouse.
-- purpose: every feature at t with sigma_future_bps and both labels at t (NULL where not labelable): the
--          assignment's label (lbl_labels_1s), and the regime-relative one with its reference and ratio
--          (lbl_relative_1s).
CREATE OR REPLACE VIEW trn_training_1s AS
WITH features AS (
    SELECT * FROM feat_features_1s
),
labels AS (
    SELECT product_id, second_at, sigma_future_bps, label
    FROM lbl_labels_1s
),
relative AS (
    SELECT product_id, second_at, ref_vol_bps, relative_ratio, label_relative
    FROM lbl_relative_1s
)
SELECT
    f.*,
    l.sigma_future_bps,
    l.label,
    r.ref_vol_bps,
    r.relative_ratio,
    r.label_relative
FROM features AS f
LEFT JOIN labels AS l ON l.product_id = f.product_id AND l.second_at = f.second_at
LEFT JOIN relative AS r ON r.product_id = f.product_id AND r.second_at = f.second_at;
