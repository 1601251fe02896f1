-- name: billing_leakage
-- title: Billing leakage
-- description: The list of completed orders with work or parts recorded that have no invoice after
--   `after_days` days, and of invoiced orders whose consumed parts are missing from the invoice lines.
-- unit: orders (a list)
-- grain: one row per order and problem
-- param: after_days int = 7 | days after completion before a missing invoice counts as leakage
-- param: region text? | only this region
-- dimensions:
-- audience: admin, manager, finance
-- notes: `no_invoice`: completed (after the last reopening, not cancelled) at least after_days before fh_now(),
--   with work minutes or parts logged, and no invoice naming the order. `parts_not_invoiced`: the order has
--   invoices, and for some part the quantity consumed exceeds the quantity on its part lines; the row gives the
--   part and the missing quantity valued at list price. Orders fully covered by contract still count: the lines
--   of a covered order carry the discount, not nothing.
WITH invoiced AS (
    SELECT DISTINCT order_id FROM invoices WHERE order_id IS NOT NULL
), no_invoice AS (
    SELECT o.order_id, 'no_invoice' AS problem, CAST(NULL AS VARCHAR) AS part_id,
           CAST(NULL AS BIGINT) AS missing_quantity,
           o.parts_cost_cents AS value_cents, o.work_minutes, o.resolution_stopped_at AS completed_at,
           o.region, o.customer_id, o.agent_id
    FROM orders o LEFT JOIN invoiced i ON o.order_id = i.order_id
    WHERE i.order_id IS NULL AND o.status IN ('completed', 'closed')
      AND (o.work_minutes > 0 OR o.parts_quantity > 0)
      AND to_unixtime(fh_now()) - to_unixtime(o.resolution_stopped_at) >= $after_days * 86400
), consumed AS (
    SELECT order_id, part_id, sum(quantity) AS quantity, max(list_value_cents / quantity) AS unit_price_cents
    FROM part_consumption GROUP BY order_id, part_id
), billed AS (
    SELECT order_id, part_id, sum(quantity_milli) / 1000 AS quantity
    FROM invoice_lines WHERE kind = 'part' AND part_id IS NOT NULL GROUP BY order_id, part_id
), parts_missing AS (
    SELECT o.order_id, 'parts_not_invoiced' AS problem, c.part_id,
           c.quantity - coalesce(b.quantity, 0) AS missing_quantity,
           (c.quantity - coalesce(b.quantity, 0)) * c.unit_price_cents AS value_cents,
           o.work_minutes, o.resolution_stopped_at AS completed_at, o.region, o.customer_id, o.agent_id
    FROM consumed c
    JOIN invoiced i ON c.order_id = i.order_id
    JOIN orders o ON c.order_id = o.order_id
    LEFT JOIN billed b ON c.order_id = b.order_id AND c.part_id = b.part_id
    WHERE c.quantity > coalesce(b.quantity, 0)
)
SELECT * FROM (SELECT * FROM no_invoice UNION ALL SELECT * FROM parts_missing) x
WHERE ($region IS NULL OR region = $region)
ORDER BY completed_at, order_id, problem, part_id
