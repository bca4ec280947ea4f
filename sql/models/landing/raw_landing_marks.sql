-- raw_landing_marks
-- grain: one row per raw_landing_rows row (rid = its rowid): raw_land_marks(...) materialised by the engine.
-- purpose: connection-local scratch: the land_seq and the arrival watermark of each landing row.
CREATE TEMP TABLE IF NOT EXISTS raw_landing_marks (
    rid BIGINT,
    land_seq BIGINT,
    arrival_wm_ns BIGINT
);
