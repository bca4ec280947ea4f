-- stg_gaps_in / stg_gaps
-- grain: one row per landed data_gap marker row (land_seq, product_id).
-- purpose: the effective gap interval (eff_from_ns, to_ns) in exchange time. A marker cannot reopen seconds
--          that were already final when it arrived: eff_from_ns = greatest(from_ns, arrival_wm_ns).
--          Markers keyed '_control' (no product) affect no product. Reads markers overlapping (lo_ns, hi_ns].
CREATE OR REPLACE MACRO stg_gaps_in(lo_ns, hi_ns) AS TABLE
WITH markers AS (
    SELECT
        land_seq, product_key AS product_id, arrival_wm_ns,
        try(from_json(payload, '{"type":"VARCHAR","reason":"VARCHAR","from_ns":"BIGINT","to_ns":"BIGINT"}')) AS m
    FROM raw_markers
    WHERE marker_type = 'data_gap' AND product_key <> '_control'
),
typed AS (
    SELECT
        land_seq, product_id, m.reason AS reason, m.from_ns AS from_ns, m.to_ns AS to_ns,
        greatest(m.from_ns, coalesce(arrival_wm_ns, m.from_ns)) AS eff_from_ns
    FROM markers
    WHERE m.from_ns IS NOT NULL AND m.to_ns IS NOT NULL
)
SELECT * FROM typed
WHERE eff_from_ns < to_ns
  AND to_ns > lo_ns
  AND eff_from_ns < hi_ns;
