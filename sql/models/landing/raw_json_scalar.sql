-- raw_json_scalar
-- grain: a scalar macro (one value per call).
-- purpose: a JSON value as text: a string's own text, any other value (number, true, ...) as written.
CREATE OR REPLACE MACRO raw_json_scalar(v) AS
    CASE WHEN starts_with(CAST(v AS VARCHAR), '"') THEN raw_json_text(v) ELSE CAST(v AS VARCHAR) END;
