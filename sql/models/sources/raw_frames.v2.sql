-- raw_frames
-- grain: one row per (landed frame, product_key); (land_seq, product_key) is unique.
-- purpose: every WebSocket frame exactly as received, with receipt stamps and Kafka coordinates.
CREATE TABLE IF NOT EXISTS raw_frames (
    land_seq BIGINT NOT NULL,       -- the record's position in landing order (per product = stream order)
    product_key VARCHAR NOT NULL,   -- glue.records.fanout_keys / the Kafka key ('_control' = no product)
    kind VARCHAR NOT NULL,          -- always 'frame'
    recv_ns BIGINT NOT NULL,        -- receipt wall clock at the socket (metadata only)
    conn VARCHAR NOT NULL,
    iseq BIGINT NOT NULL,
    payload VARCHAR,                -- the frame text, unchanged
    event_ns BIGINT,
    arrival_wm_ns BIGINT,
    topic VARCHAR,                  -- Kafka coordinates; NULL for replayed archives
    kafka_partition INTEGER,
    kafka_offset BIGINT,
    channel VARCHAR                 -- the envelope `channel` (NULL when the frame is not a JSON object)
);
