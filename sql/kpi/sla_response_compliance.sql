-- name: sla_response_compliance
-- title: SLA response compliance
-- description: Share of orders whose response clock (opened → first arrival on site, in business time of the
--   order's calendar, minus pauses) met its deadline: met ÷ (met + breached) × 100.
-- unit: percent
-- grain: one row per group; met and breached counts beside the percentage
-- param: from timestamp = 1970-01-01 | start of the period (inclusive): when the response clock ended
-- param: to timestamp = 2100-01-01 | end of the period (exclusive)
-- param: region text? | only orders at sites of this region
-- param: priority text? | only orders of this (current) priority
-- dimensions: day, week, month, region, priority, tier, product, model, technician, agent, customer
-- audience: admin, manager, dispatcher, partner
-- notes: The clock ends at the first arrival; an order still without arrival whose deadline has passed counts
--   as breached, in the period of its deadline. Orders still on track or at risk are not counted. Cancelled
--   orders are left out. Priority and targets are the order's current ones (recomputed from the opening).
SELECT {{dims}}
       count(*) FILTER (WHERE state = 'met') AS met,
       count(*) FILTER (WHERE state = 'breached') AS breached,
       round(100.0 * count(*) FILTER (WHERE state = 'met') / nullif(count(*), 0), 2) AS compliance_pct
FROM (
    SELECT *, response_state AS state, coalesce(first_arrival_at, response_deadline) AS period_at
    FROM orders
    WHERE status <> 'cancelled'
) r
WHERE state IN ('met', 'breached')
  AND period_at >= $from AND period_at < $to
  AND ($region IS NULL OR region = $region)
  AND ($priority IS NULL OR priority = $priority)
{{group_by}}
{{order_by}}
