-- int_grid_1s (v5: sessions)
-- grain: one row per (product_id, second_s) of a session: every final second of the product except the
--        seconds a marked data gap covers whole (a hole); a session is a run of consecutive seconds.
-- purpose: the 1-second grid, materialised by the engine from int_grid_1s_step, with exact integer prefix
--          sums (cum_*) that restart with each session, so that every trailing or forward window inside a
--          session is a difference of two rows of that session.
CREATE TABLE IF NOT EXISTS int_grid_1s (
    product_id VARCHAR NOT NULL,
    second_s BIGINT NOT NULL,           -- epoch seconds; covers event time in (second_s - 1, second_s]
    second_at TIMESTAMP NOT NULL,       -- UTC
    session_start_s BIGINT NOT NULL,    -- the first second of the row's session (epoch seconds)
    n_ticks BIGINT NOT NULL,            -- accepted ticker events in the second
    n_trades BIGINT NOT NULL,           -- deduplicated market trades in the second
    volume_e8 HUGEINT NOT NULL,         -- traded base volume in the second, units of 1e-8 (sum may pass 2^63)
    has_obs BOOLEAN NOT NULL,           -- a top-of-book observation fell in this second
    has_gap BOOLEAN NOT NULL,           -- a data_gap interval overlaps this second, or a hole ends just before it
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
