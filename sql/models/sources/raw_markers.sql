-- raw_markers
-- grain: one row per (landed marker, product_key).
-- purpose: the ingestor's markers (data_gap, connect, ...) as JSON; data_gap drives the gap rule.
CREATE TABLE IF NOT EXISTS raw_markers (
    land_seq BIGINT NOT NULL,
    product_key VARCHAR NOT NULL,
    kind VARCHAR NOT NULL,          -- always 'marker'
    recv_ns BIGINT NOT NULL,
    conn VARCHAR NOT NULL,
    iseq BIGINT NOT NULL,
    marker_type VARCHAR,
    payload VARCHAR,                -- the marker as JSON
    arrival_wm_ns BIGINT,
    topic VARCHAR,
    kafka_partition INTEGER,
    kafka_offset BIGINT
);
