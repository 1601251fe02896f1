-- name: billing_cycle_time
-- title: Billing cycle time
-- description: Days from completion to invoice (per invoiced order), and from invoice date to the date the
--   invoice was fully paid (payments plus credit notes covering the total).
-- unit: days
-- grain: one row per group
-- param: from timestamp = 1970-01-01 | start of the period (inclusive): invoice issue time
-- param: to timestamp = 2100-01-01 | end of the period (exclusive)
-- param: region text? | only this region
-- dimensions: day, week, month, region, tier, customer, agent
-- audience: admin, manager, finance
-- notes: Completion → invoice uses instants (issue event time − completion), in days with decimals; only
--   invoices tied to a completed order. Invoice → payment uses dates (full-payment date − issue date) and counts
--   only invoices settled by now; credit notes count towards settlement. Medians of an even count are the
--   mean of the middle two (days as decimals, not truncated to whole days). The full-payment date is the
--   first date by which the payments and credit notes dated up to it cover the total (summed per date, so
--   amounts of the same date count together): the `invoice_settlements` view.
WITH r AS (
    SELECT i.invoice_id, i.issued_at AS period_at, o.region, o.tier, i.customer_id, o.agent_id,
           CASE WHEN o.resolution_stopped_at IS NOT NULL
                THEN (to_unixtime(i.issued_at) - to_unixtime(o.resolution_stopped_at)) / 86400.0 END
               AS completion_to_invoice_days,
           CAST(s.settled_on - i.issued_on AS BIGINT) AS invoice_to_payment_days
    FROM invoices i
    LEFT JOIN orders_core o ON i.order_id = o.order_id
    LEFT JOIN invoice_settlements s ON i.invoice_id = s.invoice_id
)
SELECT {{dims}}
       count(*) AS invoices,
       round(avg(completion_to_invoice_days), 2) AS completion_to_invoice_mean_days,
       round(median(completion_to_invoice_days), 2) AS completion_to_invoice_median_days,
       count(invoice_to_payment_days) AS invoices_settled,
       round(avg(invoice_to_payment_days), 2) AS invoice_to_payment_mean_days,
       round(median(CAST(invoice_to_payment_days AS DOUBLE)), 2) AS invoice_to_payment_median_days
FROM r
WHERE period_at >= $from AND period_at < $to
  AND ($region IS NULL OR region = $region)
{{group_by}}
{{order_by}}
