-- name: dso
-- title: Days sales outstanding (DSO)
-- description: Receivables at the end of the period ÷ credit sales in the period × days in the period.
-- unit: days
-- grain: one row per group
-- param: from date? | first day of the period (inclusive); default: 90 days before `to`
-- param: to date? | end of the period (exclusive); receivables are counted as at this date; default: the day
--   after the date of fh_now() (the period ends with today)
-- dimensions: customer
-- audience: admin, manager, finance
-- notes: Credit sales = totals of invoices issued in [from, to). Receivables = open balance (total − payments −
--   credit notes dated before `to`) of all invoices issued before `to`, overpaid ones as zero. Days = to − from.
--   Without a period, the last 90 days up to today (a quarter, the usual DSO window): over all time the ratio
--   means nothing.
WITH per0 AS (
    SELECT coalesce($to, CAST(CAST(fh_now() AS DATE) + INTERVAL '1' DAY AS DATE)) AS to_d, $from AS from_arg
), per AS (
    SELECT to_d, coalesce(from_arg, CAST(to_d - INTERVAL '90' DAY AS DATE)) AS from_d FROM per0
), sales AS (
    SELECT i.customer_id, sum(i.total_cents) AS sales_cents FROM invoices i CROSS JOIN per
    WHERE i.issued_on >= per.from_d AND i.issued_on < per.to_d GROUP BY i.customer_id
), bal AS (
    SELECT i.customer_id,
           sum(greatest(i.total_cents - coalesce(p.paid, 0) - coalesce(c.credited, 0), 0)) AS receivables_cents
    FROM invoices i CROSS JOIN per
    LEFT JOIN (SELECT pm.invoice_id, sum(pm.amount_cents) AS paid FROM payments pm CROSS JOIN per
               WHERE pm.received_on < per.to_d GROUP BY pm.invoice_id) p ON i.invoice_id = p.invoice_id
    LEFT JOIN (SELECT cn.invoice_id, sum(cn.amount_cents) AS credited FROM credit_notes cn CROSS JOIN per
               WHERE cn.issued_on < per.to_d GROUP BY cn.invoice_id) c ON i.invoice_id = c.invoice_id
    WHERE i.issued_on < per.to_d
    GROUP BY i.customer_id
), r AS (
    SELECT coalesce(s.customer_id, b.customer_id) AS customer_id, coalesce(s.sales_cents, 0) AS sales_cents,
           coalesce(b.receivables_cents, 0) AS receivables_cents, CAST(per.to_d - per.from_d AS BIGINT) AS days
    FROM sales s FULL OUTER JOIN bal b ON s.customer_id = b.customer_id CROSS JOIN per
)
SELECT {{dims}}
       sum(receivables_cents) AS receivables_cents,
       sum(sales_cents) AS credit_sales_cents,
       max(days) AS days,
       round(CAST(sum(receivables_cents) AS DOUBLE) / nullif(sum(sales_cents), 0) * max(days), 2) AS dso_days
FROM r
{{group_by}}
{{order_by}}
