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
