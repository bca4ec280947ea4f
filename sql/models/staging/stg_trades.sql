-- stg_trades
-- grain: as stg_trades_in (staging/stg_trades_in.sql).
-- purpose: stg_trades_in over all history (the incremental engine calls the macro over the bounded range it needs).
CREATE OR REPLACE VIEW stg_trades AS
SELECT * FROM stg_trades_in(-1, 9223372036854775807);
