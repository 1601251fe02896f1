-- name: parts_consumption
-- title: Parts consumption
-- description: Quantity and cost of spare parts consumed, with the number of orders they went into.
-- unit: pieces and cents
-- grain: one row per group
-- param: from timestamp = 1970-01-01 | start of the period (inclusive): consumption time
-- param: to timestamp = 2100-01-01 | end of the period (exclusive)
-- param: region text? | only orders of this region
-- dimensions: day, week, month, part, component, region, product, model, technician, agent
-- audience: admin, manager, dispatcher, technician, engineer, finance, partner
-- notes: Cost = quantity × unit cost at consumption (as recorded); list value = quantity × the part's list price.
SELECT {{dims}}
       count(DISTINCT order_id) AS orders,
       sum(quantity) AS quantity,
       sum(cost_cents) AS cost_cents,
       sum(list_value_cents) AS list_value_cents
FROM (
    SELECT pc.*, pc.consumed_at AS period_at, o.region, o.product_id, o.model
    FROM part_consumption pc LEFT JOIN order_heads o ON pc.order_id = o.order_id
) r
WHERE period_at >= $from AND period_at < $to
  AND ($region IS NULL OR region = $region)
{{group_by}}
{{order_by}}
