-- int_book_state
-- grain: one row per product whose book has been folded.
-- purpose: whether its book is valid, the event time of its top's last change, and the last second folded.
CREATE TABLE IF NOT EXISTS int_book_state (
    product_id VARCHAR NOT NULL,
    is_valid BOOLEAN NOT NULL,
    changed_ns BIGINT,
    through_s BIGINT NOT NULL
);
