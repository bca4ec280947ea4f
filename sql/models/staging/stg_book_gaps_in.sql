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
