-- name: time_to_resolve
-- title: Time to resolve (MTTR)
-- description: Opened → completed minus paused time, in minutes: mean, median and 90th percentile, as
--   wall-clock time net of pauses and as business time of the order's calendar (also net of pauses).
-- unit: minutes
-- grain: one row per group
-- param: from timestamp = 1970-01-01 | start of the period (inclusive): completion
-- param: to timestamp = 2100-01-01 | end of the period (exclusive)
-- param: region text? | only this region
-- param: priority text? | only this priority
-- dimensions: day, week, month, region, priority, tier, product, model, technician, agent, customer
-- audience: admin, manager, dispatcher, engineer, partner
-- notes: The end is the completion after the last reopening. Paused time is the SLA pauses (waiting for the
--   customer; waiting for parts only where the contract pauses on parts), overlapping pauses counted once.
SELECT {{dims}}
       count(*) AS orders,
       round(avg(net_min), 2) AS net_mean_min,
       round(median(net_min), 2) AS net_median_min,
       round(percentile_cont(0.9) WITHIN GROUP (ORDER BY net_min), 2) AS net_p90_min,
       round(avg(business_min), 2) AS business_mean_min,
       round(median(business_min), 2) AS business_median_min,
       round(percentile_cont(0.9) WITHIN GROUP (ORDER BY business_min), 2) AS business_p90_min
FROM (
    SELECT *, resolution_stopped_at AS period_at,
           resolution_net_seconds / 60.0 AS net_min,
           resolution_business_seconds / 60.0 AS business_min
    FROM orders_core
    WHERE resolution_stopped_at IS NOT NULL AND status <> 'cancelled'
) r
WHERE period_at >= $from AND period_at < $to
  AND ($region IS NULL OR region = $region)
  AND ($priority IS NULL OR priority = $priority)
{{group_by}}
{{order_by}}
