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
