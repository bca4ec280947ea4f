-- feat_features_1s
-- grain: as feat_features_1s_in (features/feat_features_1s_in.sql).
-- purpose: feat_features_1s_in over every second (the engine calls the macro over the seconds it finalizes).
CREATE OR REPLACE VIEW feat_features_1s AS
SELECT * FROM feat_features_1s_in(-1, 253402300799);
