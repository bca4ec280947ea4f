-- stg_top_of_book
-- grain: as stg_top_of_book_in (staging/stg_top_of_book_in.sql).
-- purpose: stg_top_of_book_in over all history (the incremental engine calls the macro over the bounded range it needs).
CREATE OR REPLACE VIEW stg_top_of_book AS
SELECT * FROM stg_top_of_book_in(-1, 9223372036854775807);
