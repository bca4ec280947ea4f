-- trn_training_1s
-- grain: one row per (product_id, second_at) of the whole warehouse.
-- purpose: every feature at t with sigma_future_bps and label at t (NULL where not labelable).
CREATE OR REPLACE VIEW trn_training_1s AS
WITH features AS (
    SELECT * FROM feat_features_1s
),
labels AS (
    SELECT product_id, second_at, sigma_future_bps, label
    FROM lbl_labels_1s
)
SELECT
    f.*,
    l.sigma_future_bps,
    l.label
FROM features AS f
LEFT JOIN labels AS l ON l.product_id = f.product_id AND l.second_at = f.second_at;
