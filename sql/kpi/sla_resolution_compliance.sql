-- name: sla_resolution_compliance
-- title: SLA resolution compliance
-- description: Share of orders whose resolution clock (opened → completed, in business time of the order's
--   calendar, minus pauses) met its deadline: met ÷ (met + breached) × 100.
-- unit: percent
-- grain: one row per group; met and breached counts beside the percentage
-- param: from timestamp = 1970-01-01 | start of the period (inclusive): when the resolution clock ended
-- param: to timestamp = 2100-01-01 | end of the period (exclusive)
-- param: region text? | only orders at sites of this region
-- param: priority text? | only orders of this (current) priority
-- dimensions: day, week, month, region, priority, tier, product, model, technician, agent, customer
-- audience: admin, manager, dispatcher, partner
-- notes: The clock ends at the completion after the last reopening (a reopened order's clock runs again until
--   it is completed again). An open order past its deadline counts as breached, in the period of its deadline.
--   Cancelled orders are left out. Priority and targets are the current ones, recomputed from the opening.
SELECT {{dims}}
       count(*) FILTER (WHERE state = 'met') AS met,
       count(*) FILTER (WHERE state = 'breached') AS breached,
       round(100.0 * count(*) FILTER (WHERE state = 'met') / nullif(count(*), 0), 2) AS compliance_pct
FROM (
    SELECT *, resolution_state AS state, coalesce(resolution_stopped_at, resolution_deadline) AS period_at
    FROM orders
    WHERE status <> 'cancelled'
) r
WHERE state IN ('met', 'breached')
  AND period_at >= $from AND period_at < $to
  AND ($region IS NULL OR region = $region)
  AND ($priority IS NULL OR priority = $priority)
{{group_by}}
{{order_by}}
