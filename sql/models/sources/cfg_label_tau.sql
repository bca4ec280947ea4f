-- cfg_label_tau
-- grain: one row per product_id (NULL product_id = the default for every product).
-- purpose: the spike threshold tau (bps), chosen on a training window and supplied from outside.
CREATE TABLE IF NOT EXISTS cfg_label_tau (
    product_id VARCHAR,
    tau_bps DOUBLE NOT NULL
);
