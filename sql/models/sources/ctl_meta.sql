-- ctl_meta
-- grain: one row per key.
-- purpose: warehouse identity (sql_version, fingerprint, lateness_s) and counters (next_land_seq, ...).
CREATE TABLE IF NOT EXISTS ctl_meta (
    key VARCHAR PRIMARY KEY,
    value VARCHAR NOT NULL
);
