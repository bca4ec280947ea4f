-- int_book_1s_step
-- grain: one row per (product_id, second_s) of the finalize step in progress whose book is valid at the end
--        of the second with both sides non-empty.
-- purpose: connection-local scratch: the fold's top of book per second, read by int_grid_1s_step.
CREATE TEMP TABLE IF NOT EXISTS int_book_1s_step (
    product_id VARCHAR,
    second_s BIGINT,
    changed_ns BIGINT,              -- event time of the top of book's last change at or before the second's end
    best_bid_e8 BIGINT,
    best_bid_qty_e8 BIGINT,
    best_ask_e8 BIGINT,
    best_ask_qty_e8 BIGINT
);
