-- ctl_exports
-- grain: one row per export batch (one per finalize step that produced rows).
-- purpose: the export watermark: which feature rows were handed to Kafka/Parquet (exported_at NULL = pending).
CREATE TABLE IF NOT EXISTS ctl_exports (
    batch_id BIGINT PRIMARY KEY,
    n_rows BIGINT NOT NULL,
    first_partition INTEGER,
    first_offset BIGINT,
    next_offsets VARCHAR,           -- JSON {"<partition>": next_offset} landed when the batch was made
    created_ns BIGINT NOT NULL,
    exported_ns BIGINT
);
