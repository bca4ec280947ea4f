-- =====================================================================================================
-- v3 / 005_landing: the landing step. Turns the records of one landing transaction into raw_* rows.
-- v3 against v2, rules: a `clock` marker (glue.records.MARKER_CLOCK, one per heartbeat, written under each
-- product of its connection) lands with event_ns = its at_ns, so it moves the product's arrival watermark and
-- max event time (ctl_products) like a frame of that time: a product that went quiet is finalized. It never
-- starts a product's grid (min_accepted_event_ns counts frames only). Without clock markers v3 lands what v2 does.
-- v3 against v2, speed:
--   * land_seq = first_land_seq + the row's position in raw_landing_rows (no row_number window), and the
--     order-dependent marks are stored in raw_landing_rows' order, so the per-product state, the counts and
--     the common one-ticker items read the two scratch tables side by side (POSITIONAL JOIN) instead of
--     hash-joining 10^6 row ids. (raw_frames and the rarer shapes keep the hash join: a positional scan runs
--     on one thread, measured slower in wall time on 2 cores for the wide frame rows, though cheaper in CPU);
--   * the per-product watermark state and the landing's counts are macros here (raw_land_products,
--     raw_land_counts), on the same side-by-side read.
-- The engine points the temporary view raw_landing_input at the records (one row per record, in arrival order:
-- a registered Arrow table of Kafka records, or read_ndjson over archive files, read once, never copied):
--   kafka_key VARCHAR         the Kafka key = the product the record lands under; NULL = fan out here
--   kind VARCHAR              'frame' | 'marker'
--   recv_ns BIGINT, conn VARCHAR, iseq BIGINT
--   frame VARCHAR             the frame text (kind = 'frame')
--   marker VARCHAR            the marker as JSON text (kind = 'marker')
--   topic VARCHAR, kafka_partition INTEGER, kafka_offset BIGINT   (NULL for archives)
-- then runs, inside one transaction: raw_land_rows(...) -> raw_landing_rows (parse, type, fan out; parallel),
-- raw_land_marks(...) -> raw_landing_marks (the order-dependent arrival watermark, on narrow rows, stored in
-- raw_landing_rows' order), the inserts: raw_land_frames(), raw_land_markers(), raw_land_ticker_items(),
-- raw_land_trade_items(), the per-product state raw_land_products() and the counts raw_land_counts(...).
-- Live (glue featurize) and replay (glue replay) run exactly these macros, so the landing facts (event time,
-- arrival watermark, typed fields) are the same in both by construction.
-- land_seq = first_land_seq, +1, ... in arrival order; a record fanned out to several products takes
-- consecutive values, products in sorted order (as in v1).
-- Fan-out rule (archives, kafka_key NULL) = glue.records.fanout_keys: the sorted distinct string product_ids
-- at events[].product_id and events[].{tickers,trades,candles,products}[].product_id; '_control' if none;
-- markers: their `products` list. Each frame's JSON is parsed once here; the common single-ticker frame is
-- typed in that one pass, other shapes take a second, general pass.
-- =====================================================================================================

-- raw_landing_input
-- grain: one row per record of the landing in progress, in arrival order (connection-local).
-- purpose: what the engine hands to the landing step; it re-points this view at each landing's records.
CREATE OR REPLACE TEMP VIEW raw_landing_input AS
SELECT
    NULL::VARCHAR AS kafka_key,
    NULL::VARCHAR AS kind,
    NULL::BIGINT AS recv_ns,
    NULL::VARCHAR AS conn,
    NULL::BIGINT AS iseq,
    NULL::VARCHAR AS frame,
    NULL::VARCHAR AS marker,
    NULL::VARCHAR AS topic,
    NULL::INTEGER AS kafka_partition,
    NULL::BIGINT AS kafka_offset
WHERE false;

-- raw_landing_rows
-- grain: one row per (raw_landing_input row, product_key): raw_land_rows(...) materialised by the engine.
-- purpose: connection-local scratch read by the insert macros below.
CREATE TEMP TABLE IF NOT EXISTS raw_landing_rows (
    product_key VARCHAR,
    key_idx BIGINT,                 -- position of product_key among the record's keys (1 = the record's first row)
    kind VARCHAR,
    recv_ns BIGINT,
    conn VARCHAR,
    iseq BIGINT,
    frame VARCHAR,
    marker VARCHAR,
    event_ns BIGINT,
    topic VARCHAR,
    kafka_partition INTEGER,
    kafka_offset BIGINT,
    channel VARCHAR,
    sequence_num BIGINT,
    is_simple BOOLEAN,
    t_event_type VARCHAR,
    t_product_id VARCHAR,
    t_price DECIMAL(18, 8),
    t_best_bid DECIMAL(18, 8),
    t_best_ask DECIMAL(18, 8),
    t_best_bid_qty DECIMAL(18, 8),
    t_best_ask_qty DECIMAL(18, 8)
);

-- raw_landing_marks
-- grain: one row per raw_landing_rows row (rid = its rowid), in rid order: raw_land_marks(...) materialised by
--        the engine; row i of this table belongs to row i of raw_landing_rows (read side by side with
--        POSITIONAL JOIN, or joined on rid = rowid).
-- purpose: connection-local scratch: the land_seq and the arrival watermark of each landing row.
CREATE TEMP TABLE IF NOT EXISTS raw_landing_marks (
    rid BIGINT,
    land_seq BIGINT,
    arrival_wm_ns BIGINT
);

-- raw_json_text
-- purpose: the text of a JSON string value (NULL for anything that is not a JSON string).
CREATE OR REPLACE MACRO raw_json_text(v) AS
    CASE
        WHEN NOT starts_with(CAST(v AS VARCHAR), '"') THEN NULL
        WHEN contains(CAST(v AS VARCHAR), '\') THEN json_extract_string(v, '$')
        ELSE CAST(v AS VARCHAR)[2:-2]
    END;

-- raw_json_scalar
-- purpose: a JSON value as text: a string's own text, any other value (number, true, ...) as written.
CREATE OR REPLACE MACRO raw_json_scalar(v) AS
    CASE WHEN starts_with(CAST(v AS VARCHAR), '"') THEN raw_json_text(v) ELSE CAST(v AS VARCHAR) END;

-- raw_json_decimal
-- purpose: a JSON string or number as DECIMAL(18, 8); NULL when absent or not castable.
CREATE OR REPLACE MACRO raw_json_decimal(v) AS
    -- without escapes a JSON string's text is the value between its quotes (the common case, made cheap)
    try_cast(CASE WHEN contains(CAST(v AS VARCHAR), '\') THEN raw_json_scalar(v) ELSE trim(CAST(v AS VARCHAR), '"') END
             AS DECIMAL(18, 8));

-- raw_land_rows()
-- grain: one row per (raw_landing_input row, product_key it lands under), in arrival order (the engine
--        materialises it with insertion order preserved: the row's position in raw_landing_rows is its order).
-- purpose: the envelope facts of every landed record (event time, channel, sequence number, product keys)
--          and the typed ticker of the common single-event single-ticker frame (is_simple).
CREATE OR REPLACE MACRO raw_land_rows() AS TABLE
WITH parsed AS (
    -- one parse: the text of each value (json_extract_string: a string's own text, a number as written,
    -- NULL for JSON null or a missing path); json_type (a second, small parse) tells which product ids are strings.
    -- No CASE around them (v2 had CASE WHEN kind = 'frame' / WHEN j IS NOT NULL; measured: a CASE copies
    -- the list results, ~5% of this macro): frame is NULL unless kind = 'frame' (the engine's input views
    -- guarantee it; a line of another kind fails the landing), so j is NULL exactly where v2's was; and
    -- json_type is read only where j is not NULL (is_simple and the product ids need j too), where the
    -- frame parsed, so it gives what v2's did; try() makes it NULL on an unparsable frame, as j.
    SELECT
        kafka_key, kind, recv_ns, conn, iseq, frame, marker, topic, kafka_partition, kafka_offset,
        try(json_extract_string(frame, [
            '$.channel', '$.timestamp', '$.sequence_num', '$.events[0].product_id', '$.events[0].trades',
            '$.events[0].candles', '$.events[0].products', '$.events[0].type', '$.events[0].tickers[0].product_id',
            '$.events[0].tickers[0].price', '$.events[0].tickers[0].best_bid', '$.events[0].tickers[0].best_ask',
            '$.events[0].tickers[0].best_bid_quantity', '$.events[0].tickers[0].best_ask_quantity'
        ])) AS j,
        -- json_type: SQL NULL only for a missing path ('NULL' for a JSON null), so it also tells whether a 2nd
        -- event or a 2nd ticker exists at all (json_extract_string gives NULL for both)
        try(json_type(frame, ['$.events[0].product_id', '$.events[0].tickers[0].product_id',
                              '$.events[1]', '$.events[0].tickers[1]'])) AS ty
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
clocked AS (
    -- a clock marker's exchange time (an integer JSON number of ns); NULL for every other record
    SELECT
        *,
        CASE WHEN kind = 'marker' AND json_extract_string(marker, '$.type') = 'clock'
             THEN try_cast(json_extract_string(marker, '$.at_ns') AS BIGINT) END AS clock_ns
    FROM timed
),
bounded AS (
    SELECT
        * EXCLUDE (event_s, frac_ns, clock_ns),
        -- bounds in seconds first (a nested CASE: the ns product of a far-away year would overflow)
        CASE
            WHEN clock_ns IS NOT NULL THEN
                CASE WHEN clock_ns BETWEEN 946684800000000000 AND 4102444799999999999 THEN clock_ns END
            WHEN event_s BETWEEN 946684800 AND 4102444799 THEN event_s * 1000000000 + frac_ns
        END AS event_ns  -- [2000-01-01, 2100-01-01)
    FROM clocked
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

-- raw_land_marks(first_land_seq, lateness_ns)
-- grain: one row per raw_landing_rows row (rid = its rowid; rows are in arrival order), in rid order.
-- purpose: the order-dependent facts, computed on narrow rows (window operators copy every column they carry):
--          land_seq = first_land_seq + the row's position (its rowid - the first rowid: raw_landing_rows is
--          created by one order-preserving insert, so its rowids are consecutive in arrival order, starting
--          at 0, or at DuckDB's base for rows of an open transaction; raw_land_counts checks it);
--          the arrival watermark = max(event_ns of the product's earlier rows (frames and clock markers), stored
--          and in this landing)
--          - lateness_ns (NULL for '_control' and before the product's first event time).
CREATE OR REPLACE MACRO raw_land_marks(first_land_seq, lateness_ns) AS TABLE
WITH narrow AS (
    SELECT rowid AS rid, product_key, event_ns
    FROM raw_landing_rows
),
prior AS (
    SELECT
        rid,
        product_key,
        max(event_ns) OVER (
            PARTITION BY product_key ORDER BY rid ROWS BETWEEN UNBOUNDED PRECEDING AND 1 PRECEDING
        ) AS prior_batch_max_ns
    FROM narrow
)
SELECT
    w.rid,
    first_land_seq + w.rid - (SELECT min(rowid) FROM raw_landing_rows) AS land_seq,
    CASE WHEN w.product_key <> '_control'
         THEN greatest(p.max_event_ns, w.prior_batch_max_ns) - lateness_ns END AS arrival_wm_ns
FROM prior AS w
LEFT JOIN ctl_products AS p ON p.product_id = w.product_key
ORDER BY w.rid;

-- raw_land_frames()
-- grain: one row per landed frame and product_key.
-- purpose: the rows of raw_frames for the landing in raw_landing_rows / raw_landing_marks.
CREATE OR REPLACE MACRO raw_land_frames() AS TABLE
SELECT
    m.land_seq, r.product_key, r.kind, r.recv_ns, r.conn, r.iseq, r.frame AS payload, r.event_ns, m.arrival_wm_ns,
    r.topic, r.kafka_partition, r.kafka_offset, r.channel
FROM raw_landing_rows AS r
JOIN raw_landing_marks AS m ON m.rid = r.rowid
WHERE r.kind = 'frame';

-- raw_land_markers()
-- grain: one row per landed marker and product_key.
-- purpose: the rows of raw_markers for the landing in raw_landing_rows / raw_landing_marks.
CREATE OR REPLACE MACRO raw_land_markers() AS TABLE
SELECT
    m.land_seq, r.product_key, r.kind, r.recv_ns, r.conn, r.iseq, json_extract_string(r.marker, '$.type') AS marker_type,
    r.marker AS payload, m.arrival_wm_ns, r.topic, r.kafka_partition, r.kafka_offset
FROM raw_landing_rows AS r
JOIN raw_landing_marks AS m ON m.rid = r.rowid
WHERE r.kind = 'marker';

-- raw_land_ticker_items()
-- grain: one row per ticker of a landed `ticker` frame whose product_id is the row's product_key.
-- purpose: the rows of raw_ticker_items for the landing in raw_landing_rows (single-ticker frames were typed in
--          raw_land_rows; other shapes are parsed here, ticker by ticker, with the same field rules).
CREATE OR REPLACE MACRO raw_land_ticker_items() AS TABLE
WITH simple AS (
    SELECT
        m.land_seq, 1 AS event_idx, 1 AS ticker_idx, r.product_key, r.conn, r.event_ns, m.arrival_wm_ns,
        r.sequence_num, r.t_event_type AS event_type, r.t_product_id AS product_id, r.t_price AS price,
        r.t_best_bid AS best_bid, r.t_best_ask AS best_ask, r.t_best_bid_qty AS best_bid_qty,
        r.t_best_ask_qty AS best_ask_qty
    FROM raw_landing_rows AS r
    POSITIONAL JOIN raw_landing_marks AS m
    WHERE r.kind = 'frame' AND r.channel = 'ticker' AND r.is_simple AND r.t_product_id = r.product_key
),
other_frames AS (
    SELECT m.land_seq, r.product_key, r.conn, r.event_ns, m.arrival_wm_ns, r.sequence_num, r.frame
    FROM raw_landing_rows AS r
    JOIN raw_landing_marks AS m ON m.rid = r.rowid
    WHERE r.kind = 'frame' AND r.channel = 'ticker' AND NOT r.is_simple
),
events AS (
    SELECT
        * EXCLUDE (frame, evs),
        unnest(evs) AS ev, generate_subscripts(evs, 1) AS event_idx
    FROM (SELECT *, json_extract(frame, '$.events[*]') AS evs FROM other_frames)
),
tickers AS (
    SELECT
        * EXCLUDE (ev, tks),
        json_extract_string(ev, '$.type') AS event_type,
        unnest(tks) AS tk, generate_subscripts(tks, 1) AS ticker_idx
    FROM (SELECT *, json_extract(ev, '$.tickers[*]') AS tks FROM events)
),
fields AS (
    SELECT
        *,
        json_extract(tk, ['$.product_id', '$.price', '$.best_bid', '$.best_ask', '$.best_bid_quantity',
                          '$.best_ask_quantity']) AS f
    FROM tickers
),
general AS (
    SELECT
        land_seq, event_idx, ticker_idx, product_key, conn, event_ns, arrival_wm_ns, sequence_num, event_type,
        raw_json_text(f[1]) AS product_id, raw_json_decimal(f[2]) AS price, raw_json_decimal(f[3]) AS best_bid,
        raw_json_decimal(f[4]) AS best_ask, raw_json_decimal(f[5]) AS best_bid_qty,
        raw_json_decimal(f[6]) AS best_ask_qty
    FROM fields
    WHERE raw_json_text(f[1]) = product_key
)
SELECT * FROM simple
UNION ALL
SELECT * FROM general;

-- raw_land_trade_items()
-- grain: one row per trade (with a trade_id) of a landed `market_trades` frame, for its own product_key.
-- purpose: the rows of raw_trade_items for the landing in raw_landing_rows.
CREATE OR REPLACE MACRO raw_land_trade_items() AS TABLE
WITH trade_frames AS (
    SELECT m.land_seq, r.product_key, r.event_ns, m.arrival_wm_ns, r.frame
    FROM raw_landing_rows AS r
    JOIN raw_landing_marks AS m ON m.rid = r.rowid
    WHERE r.kind = 'frame' AND r.channel = 'market_trades'
),
events AS (
    SELECT
        * EXCLUDE (frame, evs),
        unnest(evs) AS ev, generate_subscripts(evs, 1) AS event_idx
    FROM (SELECT *, json_extract(frame, '$.events[*]') AS evs FROM trade_frames)
),
trades AS (
    SELECT
        * EXCLUDE (ev, trs),
        json_extract_string(ev, '$.type') AS event_type,
        unnest(trs) AS tr, generate_subscripts(trs, 1) AS trade_idx
    FROM (SELECT *, json_extract(ev, '$.trades[*]') AS trs FROM events)
),
fields AS (
    SELECT *, json_extract(tr, ['$.product_id', '$.trade_id', '$.price', '$.size', '$.side']) AS f
    FROM trades
)
SELECT
    land_seq, event_idx, trade_idx, product_key, event_ns, arrival_wm_ns, event_type,
    raw_json_text(f[1]) AS product_id,
    raw_json_scalar(f[2]) AS trade_id,
    raw_json_decimal(f[3]) AS price,
    raw_json_decimal(f[4]) AS size,
    upper(raw_json_scalar(f[5])) AS maker_side
FROM fields
WHERE raw_json_text(f[1]) = product_key
  AND f[2] IS NOT NULL AND f[2] <> 'null';

-- raw_land_products()
-- grain: one row per product_id with a timed frame in the landing (not '_control').
-- purpose: the new ctl_products rows (INSERT OR REPLACE) for the landing in raw_landing_rows / raw_landing_marks:
--          max event time landed, min accepted event time, last final second unchanged.
CREATE OR REPLACE MACRO raw_land_products() AS TABLE
WITH landed AS (
    SELECT
        r.product_key AS product_id,
        max(r.event_ns) AS max_event_ns,
        min(r.event_ns) FILTER (WHERE r.kind = 'frame' AND (m.arrival_wm_ns IS NULL OR r.event_ns >= m.arrival_wm_ns))
            AS min_accepted_ns
    FROM raw_landing_rows AS r
    POSITIONAL JOIN raw_landing_marks AS m
    -- frames and clock markers (the only markers with an event time): a clock moves the product's event time
    -- but never starts its grid
    WHERE r.product_key <> '_control' AND r.event_ns IS NOT NULL
    GROUP BY r.product_key
)
SELECT
    l.product_id,
    greatest(p.max_event_ns, l.max_event_ns) AS max_event_ns,
    least(p.min_accepted_event_ns, l.min_accepted_ns) AS min_accepted_event_ns,
    p.last_final_s
FROM landed AS l
LEFT JOIN ctl_products AS p ON p.product_id = l.product_id;

-- raw_land_counts(first_land_seq)
-- grain: one row for the landing in raw_landing_rows / raw_landing_marks.
-- purpose: what the engine reports (records, frames, markers, late, control, no_time), the next land_seq, and
--          misaligned: rows whose marks are not their own (rid <> rowid) or whose rowids are not consecutive;
--          the engine refuses the landing unless it is 0.
CREATE OR REPLACE MACRO raw_land_counts(first_land_seq) AS TABLE
SELECT
    count(*) FILTER (WHERE r.key_idx = 1) AS records,
    count(*) FILTER (WHERE r.kind = 'frame') AS frames,
    count(*) FILTER (WHERE r.kind = 'marker') AS markers,
    count(*) FILTER (WHERE r.kind = 'frame' AND r.product_key <> '_control' AND r.event_ns < m.arrival_wm_ns) AS late,
    count(*) FILTER (WHERE r.kind = 'frame' AND r.product_key = '_control') AS control,
    count(*) FILTER (WHERE r.kind = 'frame' AND r.product_key <> '_control' AND r.event_ns IS NULL) AS no_time,
    count(*) + first_land_seq AS next_land_seq,
    count(*) FILTER (WHERE m.rid IS DISTINCT FROM r.rowid) + coalesce(max(r.rowid) - min(r.rowid) + 1 - count(*), 0)
        AS misaligned
FROM raw_landing_rows AS r
POSITIONAL JOIN raw_landing_marks AS m;
