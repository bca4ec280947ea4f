-- raw_land_marks(first_land_seq, lateness_ns)
-- grain: one row per raw_landing_rows row (rid = its rowid; rows are in arrival order).
-- purpose: the order-dependent facts, computed on narrow rows (window operators copy every column they carry):
--          land_seq = first_land_seq + the row's position; the arrival watermark = max(event_ns of the
--          product's earlier rows, stored and in this landing) - lateness_ns (NULL for '_control' and before
--          the product's first event time).
CREATE OR REPLACE MACRO raw_land_marks(first_land_seq, lateness_ns) AS TABLE
WITH narrow AS (
    SELECT rowid AS rid, product_key, event_ns
    FROM raw_landing_rows
),
prior AS (
    SELECT
        rid,
        product_key,
        first_land_seq + row_number() OVER (ORDER BY rid) - 1 AS land_seq,
        max(event_ns) OVER (
            PARTITION BY product_key ORDER BY rid ROWS BETWEEN UNBOUNDED PRECEDING AND 1 PRECEDING
        ) AS prior_batch_max_ns
    FROM narrow
)
SELECT
    w.rid,
    w.land_seq,
    CASE WHEN w.product_key <> '_control'
         THEN greatest(p.max_event_ns, w.prior_batch_max_ns) - lateness_ns END AS arrival_wm_ns
FROM prior AS w
LEFT JOIN ctl_products AS p ON p.product_id = w.product_key;
