-- name: parts_attach_rate
-- title: Parts attach rate
-- description: Orders that consumed at least one part ÷ orders, by completion (seeds: over 70 % of incidents
--   need a part).
-- unit: percent
-- grain: one row per group
-- param: from timestamp = 1970-01-01 | start of the period (inclusive): completion
-- param: to timestamp = 2100-01-01 | end of the period (exclusive)
-- param: region text? | only this region
-- param: order_type text? | only orders of this type (corrective, preventive, installation); default all
-- dimensions: day, week, month, region, priority, tier, product, model, technician, agent, customer
-- audience: admin, manager, dispatcher, engineer, partner
-- notes: Counted: completed, not cancelled orders (after the last reopening) by completion time.
SELECT {{dims}}
       count(*) AS orders,
       count(*) FILTER (WHERE parts_quantity > 0) AS orders_with_parts,
       round(100.0 * count(*) FILTER (WHERE parts_quantity > 0) / nullif(count(*), 0), 2) AS attach_pct
FROM (SELECT *, resolution_stopped_at AS period_at FROM orders_core
      WHERE resolution_stopped_at IS NOT NULL AND status <> 'cancelled') r
WHERE period_at >= $from AND period_at < $to
  AND ($region IS NULL OR region = $region)
  AND ($order_type IS NULL OR order_type = $order_type)
{{group_by}}
{{order_by}}
