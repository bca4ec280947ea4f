-- =====================================================================================================
-- v4 / 015_book: the level2 order book's inputs and state (new in v4).
-- A product's book is kept from its l2_data frames: a `snapshot` event replaces the whole book, an `update`
-- event sets each listed level to its new total (0 deletes the level). The book is a fold over these events
-- in order, which set-based SQL cannot do without joining every level with every second, so the fold itself
-- runs in the engine (glue/warehouse/book.py) over the rows of stg_book_events_in, the only input it reads;
-- this file fixes what those rows are, in which order they apply, and where the fold keeps its state.
-- Rules (they depend only on data and per-product landing order, so live == replay):
--   order      events apply by (at_ns, phase, land_seq, event_idx, update_idx): the envelope event time, then
--              landing order and position; `break` rows (phase 1) apply after the events of their instant.
--   valid      the book is valid from a snapshot until a break; updates to an invalid book are ignored.
--   break      the book becomes invalid (and empty) at: a data_gap marker for the product (at
--              greatest(from_ns, its arrival watermark): messages were lost, so levels may be wrong), a late
--              l2_data frame (event time below its arrival watermark: it is not applied, so the book misses it;
--              at its arrival watermark), an event of another type than snapshot/update, and a level that
--              cannot be applied (side not bid/offer, price not > 0, quantity not >= 0, either not a decimal).
--   duplicate  l2 frames with the same (product_key, conn, sequence_num, event_ns) are one frame: the first
--              landed applies (as for tickers).
-- A break's instant is never in a second that was final when its row landed (the arrival watermark bounds it
-- below), so the fold sees the same rows for every second whatever the batch cuts.
-- Prices and quantities are exact integers in 1e-8 units (DECIMAL(18, 8) * 1e8).
-- =====================================================================================================

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

-- int_book_state
-- grain: one row per product whose book has been folded.
-- purpose: whether its book is valid, the event time of its top's last change, and the last second folded.
CREATE TABLE IF NOT EXISTS int_book_state (
    product_id VARCHAR NOT NULL,
    is_valid BOOLEAN NOT NULL,
    changed_ns BIGINT,
    through_s BIGINT NOT NULL
);

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

-- stg_book_gaps_in(lo_ns, hi_ns)
-- grain: one row per landed data_gap marker row whose break instant is in (lo_ns, hi_ns].
-- purpose: where a gap breaks the book: greatest(from_ns, arrival watermark), whatever the gap's length (a
--          gap of zero length still lost messages). Markers keyed '_control' break no book.
CREATE OR REPLACE MACRO stg_book_gaps_in(lo_ns, hi_ns) AS TABLE
WITH markers AS (
    SELECT
        land_seq, product_key AS product_id, arrival_wm_ns,
        try_cast(json_extract_string(payload, '$.from_ns') AS BIGINT) AS gap_from_ns
    FROM raw_markers
    WHERE marker_type = 'data_gap' AND product_key <> '_control'
),
placed AS (
    SELECT land_seq, product_id, greatest(gap_from_ns, arrival_wm_ns) AS from_ns
    FROM markers
)
SELECT * FROM placed
WHERE from_ns > lo_ns AND from_ns <= hi_ns;

-- stg_book_events_in(lo_ns, hi_ns)
-- grain: one row per book action with at_ns in (lo_ns, hi_ns]: a `reset` per snapshot event, a `set` per
--        applicable level, a `break` per break (see the header).
-- purpose: everything the book fold applies, typed, with its ordering key.
CREATE OR REPLACE MACRO stg_book_events_in(lo_ns, hi_ns) AS TABLE
WITH landed AS MATERIALIZED (
    SELECT
        land_seq, product_key, conn, event_ns, arrival_wm_ns, payload,
        try_cast(json_extract_string(payload, '$.sequence_num') AS BIGINT) AS sequence_num,
        arrival_wm_ns IS NOT NULL AND event_ns < arrival_wm_ns AS is_late
    FROM raw_frames
    WHERE channel = 'l2_data'
      AND product_key <> '_control'
      AND ((event_ns > lo_ns AND event_ns <= hi_ns) OR (arrival_wm_ns > lo_ns AND arrival_wm_ns <= hi_ns))
),
first_frames AS (
    SELECT *
    FROM landed
    WHERE NOT is_late AND event_ns > lo_ns AND event_ns <= hi_ns
    QUALIFY land_seq = min(land_seq) OVER (
        PARTITION BY product_key, conn, coalesce(sequence_num, -land_seq), event_ns
    )
),
events AS (
    SELECT
        land_seq, product_key, event_ns,
        unnest(evs) AS ev, generate_subscripts(evs, 1) AS event_idx
    FROM (SELECT *, json_extract(payload, '$.events[*]') AS evs FROM first_frames)
),
own_events AS MATERIALIZED (
    -- a frame fans out to each product it names; each product applies only its own events
    SELECT
        land_seq, product_key, event_ns, event_idx,
        json_extract_string(ev, '$.type') AS event_type,
        json_extract(ev, '$.updates[*]') AS ups
    FROM events
    WHERE json_extract_string(ev, '$.product_id') = product_key
),
levels AS (
    SELECT
        land_seq, product_key, event_ns, event_idx, event_type,
        unnest(ups) AS up, generate_subscripts(ups, 1) AS update_idx
    FROM own_events
    WHERE event_type IN ('snapshot', 'update')
),
typed AS (
    -- one extraction per level: a string's own text or a number as written (try_cast takes both, as
    -- raw_json_decimal does); a side that is not the string bid/offer is no side
    SELECT
        land_seq, product_key, event_ns, event_idx, update_idx,
        CASE WHEN json_type(up, '$.side') = 'VARCHAR' THEN
            CASE f[1] WHEN 'bid' THEN 'bid' WHEN 'offer' THEN 'ask' END
        END AS side,
        try_cast(f[2] AS DECIMAL(18, 8)) AS price,
        try_cast(f[3] AS DECIMAL(18, 8)) AS qty
    FROM (SELECT *, json_extract_string(up, ['$.side', '$.price_level', '$.new_quantity']) AS f FROM levels)
),
actions AS (
    SELECT
        product_key AS product_id, event_ns AS at_ns, 0 AS phase, land_seq, event_idx, 0 AS update_idx,
        'reset' AS action, NULL::VARCHAR AS side, NULL::BIGINT AS price_e8, NULL::BIGINT AS qty_e8,
        NULL::VARCHAR AS reason
    FROM own_events
    WHERE event_type = 'snapshot'
    UNION ALL
    SELECT
        product_key, event_ns, 0, land_seq, event_idx, update_idx,
        CASE WHEN side IS NOT NULL AND price > 0 AND qty >= 0 THEN 'set' ELSE 'break' END,
        side,
        CAST(CAST(price AS DECIMAL(38, 8)) * 100000000 AS BIGINT),
        CAST(CAST(qty AS DECIMAL(38, 8)) * 100000000 AS BIGINT),
        CASE WHEN side IS NOT NULL AND price > 0 AND qty >= 0 THEN NULL ELSE 'bad_level' END
    FROM typed
    UNION ALL
    SELECT product_key, event_ns, 0, land_seq, event_idx, 0, 'break', NULL, NULL, NULL, 'bad_event'
    FROM own_events
    WHERE event_type IS DISTINCT FROM 'snapshot' AND event_type IS DISTINCT FROM 'update'
    UNION ALL
    SELECT product_key, arrival_wm_ns, 1, land_seq, 0, 0, 'break', NULL, NULL, NULL, 'late_frame'
    FROM landed
    WHERE is_late AND arrival_wm_ns > lo_ns AND arrival_wm_ns <= hi_ns
    UNION ALL
    SELECT product_id, from_ns, 1, land_seq, 0, 0, 'break', NULL, NULL, NULL, 'data_gap'
    FROM stg_book_gaps_in(lo_ns, hi_ns)
)
SELECT
    product_id, at_ns, (at_ns + 999999999) // 1000000000 AS second_s, phase, land_seq, event_idx, update_idx,
    action, side, price_e8, qty_e8, reason
FROM actions;
