-- ctl_finalize
-- grain: one row per product_id being finalized by the current engine step (scratch, per transaction).
-- purpose: the seconds [from_s, to_s] that became final in this step.
CREATE TABLE IF NOT EXISTS ctl_finalize (
    product_id VARCHAR PRIMARY KEY,
    from_s BIGINT NOT NULL,
    to_s BIGINT NOT NULL
);
