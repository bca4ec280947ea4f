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
