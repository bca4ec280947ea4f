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
