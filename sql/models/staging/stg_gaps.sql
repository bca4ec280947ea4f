-- stg_gaps
-- grain: as stg_gaps_in (staging/stg_gaps_in.sql).
-- purpose: stg_gaps_in over all history (the incremental engine calls the macro over the bounded range it needs).
CREATE OR REPLACE VIEW stg_gaps AS
SELECT * FROM stg_gaps_in(-1, 9223372036854775807);
