-- name: receivables_aging
-- title: Receivables aging
-- description: Open receivables (invoice total − payments − credit notes up to the as-of date) by days past
--   due: current (not yet due), 0–30, 31–60, 61–90, 90+.
-- unit: cents
-- grain: one row per group and bucket
-- param: as_of date? | the date to age at (default: the date of fh_now()); money after it is not counted
-- dimensions: customer, region
-- audience: admin, manager, finance
-- notes: Days past due = as_of − due date; due today = 0 days past due, bucket 0-30. Invoices billed to a
--   manufacturer are included. Invoices issued after as_of are left out. Overpaid invoices (negative balance)
--   are left out.
WITH d AS (
    SELECT coalesce($as_of, CAST(fh_now() AS DATE)) AS as_of
), open AS (
    SELECT i.invoice_id, i.customer_id, o.region,
           i.total_cents - coalesce(p.paid, 0) - coalesce(c.credited, 0) AS open_cents,
           CAST(d.as_of - i.due_on AS BIGINT) AS days_past_due
    FROM invoices i CROSS JOIN d
    LEFT JOIN (SELECT pm.invoice_id, sum(pm.amount_cents) AS paid FROM payments pm CROSS JOIN d
               WHERE pm.received_on <= d.as_of GROUP BY pm.invoice_id) p ON i.invoice_id = p.invoice_id
    LEFT JOIN (SELECT cn.invoice_id, sum(cn.amount_cents) AS credited FROM credit_notes cn CROSS JOIN d
               WHERE cn.issued_on <= d.as_of GROUP BY cn.invoice_id) c ON i.invoice_id = c.invoice_id
    LEFT JOIN order_heads o ON i.order_id = o.order_id
    WHERE i.issued_on <= d.as_of
), bucketed AS (
    SELECT *, CASE WHEN days_past_due < 0 THEN 'current'
                   WHEN days_past_due <= 30 THEN '0-30'
                   WHEN days_past_due <= 60 THEN '31-60'
                   WHEN days_past_due <= 90 THEN '61-90'
                   ELSE '90+' END AS bucket,
              CASE WHEN days_past_due < 0 THEN 0 WHEN days_past_due <= 30 THEN 1 WHEN days_past_due <= 60 THEN 2
                   WHEN days_past_due <= 90 THEN 3 ELSE 4 END AS bucket_order
    FROM open WHERE open_cents > 0
)
SELECT {{dims}} bucket, count(*) AS invoices, sum(open_cents) AS open_cents
FROM bucketed
GROUP BY {{dim_exprs}} bucket, bucket_order
ORDER BY {{order_by_dims}} bucket_order
