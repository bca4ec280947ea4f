-- raw_land_rows()
-- grain: one row per (raw_landing_input row, product_key it lands under), in arrival order (the engine
--        materialises it with insertion order preserved: the row's position in raw_landing_rows is its order).
-- purpose: the envelope facts of every landed record (event time, channel, sequence number, product keys)
--          and the typed ticker of the common single-event single-ticker frame (is_simple).
CREATE OR REPLACE MACRO raw_land_rows() AS TABLE
WITH parsed AS (
    -- one parse: the text of each value (json_extract_string: a string's own text, a number as written,
    -- NULL for JSON null or a missing path); json_type (a second, small parse) tells which product ids are strings
    SELECT
        kafka_key, kind, recv_ns, conn, iseq, frame, marker, topic, kafka_partition, kafka_offset,
        CASE WHEN kind = 'frame' THEN try(json_extract_string(frame, [
            '$.channel', '$.timestamp', '$.sequence_num', '$.events[0].product_id', '$.events[0].trades',
            '$.events[0].candles', '$.events[0].products', '$.events[0].type', '$.events[0].tickers[0].product_id',
            '$.events[0].tickers[0].price', '$.events[0].tickers[0].best_bid', '$.events[0].tickers[0].best_ask',
            '$.events[0].tickers[0].best_bid_quantity', '$.events[0].tickers[0].best_ask_quantity'
        ])) END AS j,
        -- json_type: SQL NULL only for a missing path ('NULL' for a JSON null), so it also tells whether a 2nd
        -- event or a 2nd ticker exists at all (json_extract_string gives NULL for both)
        CASE WHEN j IS NOT NULL THEN json_type(frame, ['$.events[0].product_id', '$.events[0].tickers[0].product_id',
                                                       '$.events[1]', '$.events[0].tickers[1]'])
        END AS ty
    FROM raw_landing_input
),
shaped AS (
    SELECT
        * EXCLUDE (j, ty),
        j[1] AS channel,
        j[2] AS ts_text,
        try_cast(j[3] AS BIGINT) AS sequence_num,
        -- one event whose only product sources are its own product_id and at most one ticker
        j IS NOT NULL AND ty[3] IS NULL AND j[5] IS NULL AND j[6] IS NULL AND j[7] IS NULL AND ty[4] IS NULL
            AS is_simple,
        j IS NULL AS is_unparsed,
        CASE WHEN ty[1] = 'VARCHAR' THEN j[4] END AS event_product_id,
        j[8] AS t_event_type,
        CASE WHEN ty[2] = 'VARCHAR' THEN j[9] END AS t_product_id,
        try_cast(j[10] AS DECIMAL(18, 8)) AS t_price,
        try_cast(j[11] AS DECIMAL(18, 8)) AS t_best_bid,
        try_cast(j[12] AS DECIMAL(18, 8)) AS t_best_ask,
        try_cast(j[13] AS DECIMAL(18, 8)) AS t_best_bid_qty,
        try_cast(j[14] AS DECIMAL(18, 8)) AS t_best_ask_qty
    FROM parsed
),
keyed AS (
    SELECT
        * EXCLUDE (kafka_key, is_unparsed, event_product_id),
        CASE
            WHEN kafka_key IS NOT NULL THEN [kafka_key]
            WHEN kind = 'marker' THEN coalesce(
                nullif(list_sort(list_distinct(try(json_extract_string(marker, '$.products[*]')))), []),
                ['_control'])
            WHEN is_unparsed THEN ['_control']
            WHEN is_simple THEN CASE
                WHEN event_product_id IS NULL AND t_product_id IS NULL THEN ['_control']
                WHEN event_product_id IS NULL OR event_product_id = t_product_id THEN [t_product_id]
                WHEN t_product_id IS NULL THEN [event_product_id]
                ELSE list_sort([event_product_id, t_product_id])
            END
            ELSE coalesce(nullif(list_sort(list_distinct(list_filter(list_transform(flatten([
                json_extract(frame, '$.events[*].product_id'),
                json_extract(frame, '$.events[*].tickers[*].product_id'),
                json_extract(frame, '$.events[*].trades[*].product_id'),
                json_extract(frame, '$.events[*].candles[*].product_id'),
                json_extract(frame, '$.events[*].products[*].product_id')
            ]), lambda v: raw_json_text(v)), lambda p: p IS NOT NULL))), []), ['_control'])
        END AS product_keys
    FROM shaped
),
stamped AS (
    -- the envelope timestamp (RFC 3339: any fraction digits, Z or an offset, naive = UTC), exactly, in ns.
    -- Coinbase's own form (YYYY-MM-DDTHH:MM:SS[.f]Z) takes a cheap path; the general pattern gives the same
    -- value for it.
    SELECT
        * EXCLUDE (ts_text),
        CASE
            WHEN regexp_full_match(ts_text, '\d{4}-\d{2}-\d{2}T([01]\d|2[0-3]):[0-5]\d:[0-5]\d(\.\d{1,9})?Z')
            THEN epoch_us(try_cast(ts_text[1:19] AS TIMESTAMP)) // 1000000
        END AS fast_s,
        CASE
            WHEN fast_s IS NOT NULL OR ts_text IS NULL THEN NULL
            ELSE regexp_extract(
                -- the characters Python's str.strip() removes (the reference parser strips them too)
                trim(ts_text,
                    chr(9) || chr(10) || chr(11) || chr(12) || chr(13) || chr(28) || chr(29) || chr(30) ||
                    chr(31) || chr(32) || chr(133) || chr(160) || chr(5760) || chr(8192) || chr(8193) || chr(8194) ||
                    chr(8195) || chr(8196) || chr(8197) || chr(8198) || chr(8199) || chr(8200) || chr(8201) || chr(8202) ||
                    chr(8232) || chr(8233) || chr(8239) || chr(8287) || chr(12288)),
                '^(\d{4})-(\d{2})-(\d{2})[T ](\d{2}):(\d{2}):(\d{2})(?:\.(\d{1,9}))?(Z|[+-]\d{2}:?\d{2})?$',
                ['y', 'mo', 'd', 'h', 'mi', 's', 'f', 'z']
            )
        END AS g,
        CASE WHEN fast_s IS NOT NULL AND length(ts_text) > 20 THEN try_cast(rpad(ts_text[21:-2], 9, '0') AS BIGINT) END
            AS fast_frac_ns
    FROM keyed
),
timed AS (
    -- every cast is a try_cast: DuckDB evaluates all arms of a condition, and a stamp that does not match
    -- (g.* = '') must give NULL, never abort the landing
    SELECT
        * EXCLUDE (g, fast_s, fast_frac_ns),
        CASE
            WHEN fast_s IS NOT NULL THEN fast_s
            WHEN try_cast(g.h AS INTEGER) < 24 AND try_cast(g.mi AS INTEGER) < 60 AND try_cast(g.s AS INTEGER) < 60 THEN
                epoch_us(try(make_timestamp(try_cast(g.y AS BIGINT), try_cast(g.mo AS BIGINT), try_cast(g.d AS BIGINT),
                                            try_cast(g.h AS BIGINT), try_cast(g.mi AS BIGINT),
                                            try_cast(g.s AS DOUBLE)))) // 1000000
                - CASE WHEN g.z IN ('', 'Z') THEN 0
                       ELSE (CASE WHEN g.z[1] = '+' THEN 1 ELSE -1 END)
                            * (coalesce(try_cast(replace(g.z, ':', '')[2:3] AS BIGINT), 0) * 3600
                               + coalesce(try_cast(replace(g.z, ':', '')[4:5] AS BIGINT), 0) * 60)
                  END
        END AS event_s,
        CASE
            WHEN fast_s IS NOT NULL THEN coalesce(fast_frac_ns, 0)
            ELSE coalesce(try_cast(rpad(nullif(g.f, ''), 9, '0') AS BIGINT), 0)
        END AS frac_ns
    FROM stamped
),
bounded AS (
    SELECT
        * EXCLUDE (event_s, frac_ns),
        -- bounds in seconds first (a nested CASE: the ns product of a far-away year would overflow)
        CASE WHEN event_s BETWEEN 946684800 AND 4102444799 THEN event_s * 1000000000 + frac_ns END
            AS event_ns  -- [2000-01-01, 2100-01-01)
    FROM timed
),
fanned AS (
    SELECT
        * EXCLUDE (product_keys),
        unnest(product_keys) AS product_key,
        generate_subscripts(product_keys, 1) AS key_idx
    FROM bounded
)
SELECT
    product_key, key_idx, kind, recv_ns, conn, iseq, frame, marker, event_ns, topic, kafka_partition,
    kafka_offset, channel, sequence_num, is_simple, t_event_type, t_product_id, t_price, t_best_bid, t_best_ask,
    t_best_bid_qty, t_best_ask_qty
FROM fanned;
