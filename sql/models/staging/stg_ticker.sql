-- stg_ticker
-- grain: as stg_ticker_in (staging/stg_ticker_in.sql).
-- purpose: stg_ticker_in over all history (the incremental engine calls the macro over the bounded range it needs).
CREATE OR REPLACE VIEW stg_ticker AS
SELECT * FROM stg_ticker_in(-1, 9223372036854775807);
