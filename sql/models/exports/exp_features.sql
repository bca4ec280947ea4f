-- exp_features
-- grain: one row per (product_id, second_at), emitted exactly once.
-- purpose: the final feature rows as sent to ticks.features / Parquet, with the export batch that holds them.
CREATE TABLE IF NOT EXISTS exp_features AS
SELECT *, CAST(0 AS BIGINT) AS batch_id
FROM feat_features_1s_in(0, -1)
LIMIT 0;
