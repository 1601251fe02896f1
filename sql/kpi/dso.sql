-- name: dso
-- title: Days sales outstanding (DSO)
-- description: Receivables at the end of the period ÷ credit sales in the period × days in the period.
-- unit: days
-- grain: one row per group
-- param: from date = 1970-01-01 | first day of the period (inclusive)
-- param: to date = 2100-01-01 | end of the period (exclusive); receivables are counted as at this date
-- dimensions: customer
-- audience: admin, manager, finance
-- notes: Credit sales = totals of invoices issued in [from, to). Receivables = open balance (total − payments −
--   credit notes dated before `to`) of all invoices issued before `to`, overpaid ones as zero. Days = to − from.
WITH sales AS (
    SELECT customer_id, sum(total_cents) AS sales_cents FROM invoices
    WHERE issued_on >= $from AND issued_on < $to GROUP BY customer_id
), bal AS (
    SELECT i.customer_id,
           sum(greatest(i.total_cents - coalesce(p.paid, 0) - coalesce(c.credited, 0), 0)) AS receivables_cents
    FROM invoices i
    LEFT JOIN (SELECT invoice_id, sum(amount_cents) AS paid FROM payments WHERE received_on < $to
               GROUP BY invoice_id) p ON i.invoice_id = p.invoice_id
    LEFT JOIN (SELECT invoice_id, sum(amount_cents) AS credited FROM credit_notes WHERE issued_on < $to
               GROUP BY invoice_id) c ON i.invoice_id = c.invoice_id
    WHERE i.issued_on < $to
    GROUP BY i.customer_id
), r AS (
    SELECT coalesce(s.customer_id, b.customer_id) AS customer_id, coalesce(s.sales_cents, 0) AS sales_cents,
           coalesce(b.receivables_cents, 0) AS receivables_cents
    FROM sales s FULL OUTER JOIN bal b ON s.customer_id = b.customer_id
)
SELECT {{dims}}
       sum(receivables_cents) AS receivables_cents,
       sum(sales_cents) AS credit_sales_cents,
       CAST($to - $from AS BIGINT) AS days,
       round(CAST(sum(receivables_cents) AS DOUBLE) / nullif(sum(sales_cents), 0) * CAST($to - $from AS BIGINT), 2)
           AS dso_days
FROM r
{{group_by}}
{{order_by}}
