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
