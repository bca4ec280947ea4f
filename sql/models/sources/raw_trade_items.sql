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
