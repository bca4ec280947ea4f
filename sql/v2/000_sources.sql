-- =====================================================================================================
-- v2 / 000_sources: landing tables (raw_*), engine state (ctl_*), parameters (cfg_*), materialised grid.
-- Plain DuckDB. Every statement is idempotent (IF NOT EXISTS), so applying the version twice is harmless.
-- v2 lands typed rows: 005_landing.sql parses each frame ONCE, at landing, into raw_frames (the frame text
-- and its envelope facts) plus one typed row per ticker (raw_ticker_items) and per trade (raw_trade_items);
-- staging reads those columns and never parses JSON again. Landing facts (005_landing.sql computes them):
--   event_ns       the envelope `timestamp` as epoch ns (RFC 3339, exact; NULL if absent or outside 2000-2100)
--   arrival_wm_ns  the product's watermark just before this row arrived:
--                  max(event_ns of earlier rows of the same product_key) - lateness_ns (NULL if none)
-- A frame is LATE when event_ns < arrival_wm_ns; stg_* drop late rows (see docs/feature_spec.md).
-- =====================================================================================================

-- raw_frames
-- grain: one row per (landed frame, product_key); (land_seq, product_key) is unique.
-- purpose: every WebSocket frame exactly as received, with receipt stamps and Kafka coordinates.
CREATE TABLE IF NOT EXISTS raw_frames (
    land_seq BIGINT NOT NULL,       -- the record's position in landing order (per product = stream order)
    product_key VARCHAR NOT NULL,   -- glue.records.fanout_keys / the Kafka key ('_control' = no product)
    kind VARCHAR NOT NULL,          -- always 'frame'
    recv_ns BIGINT NOT NULL,        -- receipt wall clock at the socket (metadata only)
    conn VARCHAR NOT NULL,
    iseq BIGINT NOT NULL,
    payload VARCHAR,                -- the frame text, unchanged
    event_ns BIGINT,
    arrival_wm_ns BIGINT,
    topic VARCHAR,                  -- Kafka coordinates; NULL for replayed archives
    kafka_partition INTEGER,
    kafka_offset BIGINT,
    channel VARCHAR                 -- the envelope `channel` (NULL when the frame is not a JSON object)
);

-- raw_ticker_items
-- grain: one row per (land_seq, event_idx, ticker_idx): a ticker of a `ticker` frame, for its own product_key.
-- purpose: the ticker fields typed once at landing (DECIMAL(18, 8) prices; NULL where a value does not cast).
CREATE TABLE IF NOT EXISTS raw_ticker_items (
    land_seq BIGINT NOT NULL,
    event_idx BIGINT NOT NULL,      -- 1-based position of the event in the frame
    ticker_idx BIGINT NOT NULL,     -- 1-based position of the ticker in the event
    product_key VARCHAR NOT NULL,   -- = product_id: a ticker lands only under its own product
    conn VARCHAR NOT NULL,
    event_ns BIGINT,
    arrival_wm_ns BIGINT,
    sequence_num BIGINT,
    event_type VARCHAR,
    product_id VARCHAR NOT NULL,
    price DECIMAL(18, 8),
    best_bid DECIMAL(18, 8),
    best_ask DECIMAL(18, 8),
    best_bid_qty DECIMAL(18, 8),
    best_ask_qty DECIMAL(18, 8)
);

-- raw_trade_items
-- grain: one row per (land_seq, event_idx, trade_idx): a trade of a `market_trades` frame, for its own product.
-- purpose: the trade fields typed once at landing; de-duplication by trade_id happens in stg_trades.
CREATE TABLE IF NOT EXISTS raw_trade_items (
    land_seq BIGINT NOT NULL,
    event_idx BIGINT NOT NULL,
    trade_idx BIGINT NOT NULL,
    product_key VARCHAR NOT NULL,
    event_ns BIGINT,
    arrival_wm_ns BIGINT,
    event_type VARCHAR,
    product_id VARCHAR NOT NULL,
    trade_id VARCHAR NOT NULL,
    price DECIMAL(18, 8),
    size DECIMAL(18, 8),
    maker_side VARCHAR
);

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

-- raw_offsets
-- grain: one row per (topic, kafka_partition).
-- purpose: the next Kafka offset to consume, written in the same transaction as the rows it covers.
CREATE TABLE IF NOT EXISTS raw_offsets (
    topic VARCHAR NOT NULL,
    kafka_partition INTEGER NOT NULL,
    next_offset BIGINT NOT NULL,
    PRIMARY KEY (topic, kafka_partition)
);

-- ctl_meta
-- grain: one row per key.
-- purpose: warehouse identity (sql_version, fingerprint, lateness_s) and counters (next_land_seq, ...).
CREATE TABLE IF NOT EXISTS ctl_meta (
    key VARCHAR PRIMARY KEY,
    value VARCHAR NOT NULL
);

-- ctl_products
-- grain: one row per product_id.
-- purpose: the incremental engine's per-product state: watermark inputs and the last final second.
CREATE TABLE IF NOT EXISTS ctl_products (
    product_id VARCHAR PRIMARY KEY,
    max_event_ns BIGINT,            -- max event_ns landed for the product (all its frames)
    min_accepted_event_ns BIGINT,   -- first grid second = ceil(this / 1e9)
    last_final_s BIGINT             -- last grid second materialised (epoch seconds), NULL = none yet
);

-- ctl_finalize
-- grain: one row per product_id being finalized by the current engine step (scratch, per transaction).
-- purpose: the seconds [from_s, to_s] that became final in this step.
CREATE TABLE IF NOT EXISTS ctl_finalize (
    product_id VARCHAR PRIMARY KEY,
    from_s BIGINT NOT NULL,
    to_s BIGINT NOT NULL
);

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

-- cfg_label_tau
-- grain: one row per product_id (NULL product_id = the default for every product).
-- purpose: the spike threshold tau (bps), chosen on a training window and supplied from outside.
CREATE TABLE IF NOT EXISTS cfg_label_tau (
    product_id VARCHAR,
    tau_bps DOUBLE NOT NULL
);

-- int_grid_1s
-- grain: one row per (product_id, second_s); dense from the product's first second to its last final second.
-- purpose: the 1-second grid, materialised by the engine from int_grid_1s_step (020_grid.sql), with exact
--          integer prefix sums (cum_*) so that every trailing or forward window is a difference of two rows.
CREATE TABLE IF NOT EXISTS int_grid_1s (
    product_id VARCHAR NOT NULL,
    second_s BIGINT NOT NULL,           -- epoch seconds; covers event time in (second_s - 1, second_s]
    second_at TIMESTAMP NOT NULL,       -- UTC
    n_ticks BIGINT NOT NULL,            -- accepted ticker events in the second
    n_trades BIGINT NOT NULL,           -- deduplicated market trades in the second
    volume_e8 HUGEINT NOT NULL,         -- traded base volume in the second, units of 1e-8 (sum may pass 2^63)
    has_obs BOOLEAN NOT NULL,           -- a top-of-book observation fell in this second
    has_gap BOOLEAN NOT NULL,           -- a data_gap interval overlaps this second
    obs_event_ns BIGINT,                -- event time of the observation carried at this second
    best_bid DECIMAL(18, 8),
    best_ask DECIMAL(18, 8),
    best_bid_qty DECIMAL(18, 8),
    best_ask_qty DECIMAL(18, 8),
    last_price DECIMAL(18, 8),
    mid_price DOUBLE,                   -- (best_bid + best_ask) / 2, or last_price without a valid quote
    ret_e9 BIGINT,                      -- round(1e9 * ln(mid_t / mid_{t-1})); NULL when not a valid return
    spread_bps_e6 BIGINT,               -- round(1e6 * spread_bps)
    imbalance_e9 BIGINT,                -- round(1e9 * (bid_qty - ask_qty) / (bid_qty + ask_qty))
    cum_n_ret BIGINT NOT NULL,
    cum_ret_e9 HUGEINT NOT NULL,
    cum_ret2_e18 HUGEINT NOT NULL,
    cum_n_gap BIGINT NOT NULL,
    cum_ticks BIGINT NOT NULL,
    cum_trades BIGINT NOT NULL,
    cum_volume_e8 HUGEINT NOT NULL,
    cum_n_spread BIGINT NOT NULL,
    cum_spread_bps_e6 HUGEINT NOT NULL,
    cum_n_imbalance BIGINT NOT NULL,
    cum_imbalance_e9 HUGEINT NOT NULL
);
