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
--   of a covered order carry the discount, not nothing. `value_cents` is always parts at list price (for
--   `no_invoice`: every part consumed on the order), so the two kinds add up; labour is not valued (see
--   `work_minutes`). Billed quantities are `quantity_milli` / 1000 with decimals (a line for 1.5 units bills 1.5).
WITH uninvoiced AS (
    -- NOT EXISTS (an anti join), not a join with the distinct invoiced order ids (no grouping of the
    -- invoices), and before the parts are looked up (only the orders without an invoice are joined)
    SELECT o.order_id, o.work_minutes, o.resolution_stopped_at, o.region, o.customer_id, o.agent_id
    FROM orders_core o
    WHERE NOT EXISTS (SELECT 1 FROM invoices i WHERE i.order_id = o.order_id)
      AND o.status IN ('completed', 'closed')
      AND (o.work_minutes > 0 OR o.parts_quantity > 0)
      AND to_unixtime(fh_now()) - to_unixtime(o.resolution_stopped_at) >= $after_days * 86400
), parts_list AS (
    SELECT order_id, sum(list_value_cents) AS list_value_cents FROM part_consumption GROUP BY order_id
), no_invoice AS (
    SELECT o.order_id, 'no_invoice' AS problem, CAST(NULL AS VARCHAR) AS part_id,
           CAST(NULL AS DOUBLE) AS missing_quantity,
           CAST(coalesce(pl.list_value_cents, 0) AS DOUBLE) AS value_cents, o.work_minutes,
           o.resolution_stopped_at AS completed_at, o.region, o.customer_id, o.agent_id
    FROM uninvoiced o LEFT JOIN parts_list pl ON o.order_id = pl.order_id
), consumed AS (
    SELECT order_id, part_id, CAST(sum(quantity) AS DOUBLE) AS quantity,
           max(CAST(list_value_cents AS DOUBLE) / quantity) AS unit_price_cents
    FROM part_consumption GROUP BY order_id, part_id
), billed AS (
    SELECT order_id, part_id, CAST(sum(quantity_milli) AS DOUBLE) / 1000.0 AS quantity
    FROM invoice_lines WHERE kind = 'part' AND part_id IS NOT NULL GROUP BY order_id, part_id
), parts_missing AS (
    -- the lines missing first, then their orders (few rows reach the join with orders_core)
    SELECT o.order_id, 'parts_not_invoiced' AS problem, m.part_id, m.missing_quantity,
           m.missing_quantity * m.unit_price_cents AS value_cents,
           o.work_minutes, o.resolution_stopped_at AS completed_at, o.region, o.customer_id, o.agent_id
    FROM (
        SELECT c.order_id, c.part_id, c.quantity - coalesce(b.quantity, 0) AS missing_quantity, c.unit_price_cents
        FROM consumed c
        LEFT JOIN billed b ON c.order_id = b.order_id AND c.part_id = b.part_id
        WHERE c.quantity > coalesce(b.quantity, 0)
          AND EXISTS (SELECT 1 FROM invoices i WHERE i.order_id = c.order_id)
    ) m
    JOIN orders_core o ON m.order_id = o.order_id
)
SELECT * FROM (SELECT * FROM no_invoice UNION ALL SELECT * FROM parts_missing) x
WHERE ($region IS NULL OR region = $region)
ORDER BY completed_at, order_id, problem, part_id
