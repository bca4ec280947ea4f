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
