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
