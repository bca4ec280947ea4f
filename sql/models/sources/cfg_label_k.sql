-- cfg_label_k
-- grain: one row per product_id (NULL product_id = the default for every product).
-- purpose: the regime-relative spike threshold k (a ratio sigma_future / ref_vol), chosen on a training
--          window and supplied from outside, as cfg_label_tau is for the assignment's label.
CREATE TABLE IF NOT EXISTS cfg_label_k (
    product_id VARCHAR,
    k DOUBLE NOT NULL
);
