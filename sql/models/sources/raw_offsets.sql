-- raw_offsets
-- grain: one row per (topic, kafka_partition).
-- purpose: the next Kafka offset to consume, written in the same transaction as the rows it covers.
CREATE TABLE IF NOT EXISTS raw_offsets (
    topic VARCHAR NOT NULL,
    kafka_partition INTEGER NOT NULL,
    next_offset BIGINT NOT NULL,
    PRIMARY KEY (topic, kafka_partition)
);
