-- raw_landing_rows
-- grain: one row per (raw_landing_input row, product_key): raw_land_rows(...) materialised by the engine.
-- purpose: connection-local scratch read by the insert macros below.
CREATE TEMP TABLE IF NOT EXISTS raw_landing_rows (
    product_key VARCHAR,
    key_idx BIGINT,                 -- position of product_key among the record's keys (1 = the record's first row)
    kind VARCHAR,
    recv_ns BIGINT,
    conn VARCHAR,
    iseq BIGINT,
    frame VARCHAR,
    marker VARCHAR,
    event_ns BIGINT,
    topic VARCHAR,
    kafka_partition INTEGER,
    kafka_offset BIGINT,
    channel VARCHAR,
    sequence_num BIGINT,
    is_simple BOOLEAN,
    t_event_type VARCHAR,
    t_product_id VARCHAR,
    t_price DECIMAL(18, 8),
    t_best_bid DECIMAL(18, 8),
    t_best_ask DECIMAL(18, 8),
    t_best_bid_qty DECIMAL(18, 8),
    t_best_ask_qty DECIMAL(18, 8)
);
