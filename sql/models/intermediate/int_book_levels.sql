-- int_book_levels
-- grain: one row per (product_id, side, price_e8) level with a quantity > 0 in a valid book, as of the end of
--        the product's last final second (ctl_products.last_final_s).
-- purpose: the fold's state between finalize steps; written by the engine in the finalize transaction.
CREATE TABLE IF NOT EXISTS int_book_levels (
    product_id VARCHAR NOT NULL,
    side VARCHAR NOT NULL,          -- 'bid' | 'ask'
    price_e8 BIGINT NOT NULL,
    qty_e8 BIGINT NOT NULL
);
