-- raw_json_decimal
-- grain: a scalar macro (one value per call).
-- purpose: a JSON string or number as DECIMAL(18, 8); NULL when absent or not castable.
CREATE OR REPLACE MACRO raw_json_decimal(v) AS
    -- without escapes a JSON string's text is the value between its quotes (the common case, made cheap)
    try_cast(CASE WHEN contains(CAST(v AS VARCHAR), '\') THEN raw_json_scalar(v) ELSE trim(CAST(v AS VARCHAR), '"') END
             AS DECIMAL(18, 8));
