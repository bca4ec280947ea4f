-- raw_json_text
-- grain: a scalar macro (one value per call).
-- purpose: the text of a JSON string value (NULL for anything that is not a JSON string).
CREATE OR REPLACE MACRO raw_json_text(v) AS
    CASE
        WHEN NOT starts_with(CAST(v AS VARCHAR), '"') THEN NULL
        WHEN contains(CAST(v AS VARCHAR), '\') THEN json_extract_string(v, '$')
        ELSE CAST(v AS VARCHAR)[2:-2]
    END;
