-- ctl_products
-- grain: one row per product_id.
-- purpose: the incremental engine's per-product state: watermark inputs and the last final second.
CREATE TABLE IF NOT EXISTS ctl_products (
    product_id VARCHAR PRIMARY KEY,
    max_event_ns BIGINT,            -- max event_ns landed for the product (all its frames)
    min_accepted_event_ns BIGINT,   -- first grid second = ceil(this / 1e9)
    last_final_s BIGINT             -- last grid second materialised (epoch seconds), NULL = none yet
);
