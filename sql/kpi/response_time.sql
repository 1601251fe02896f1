-- name: response_time
-- title: Response time
-- description: Opened → first arrival on site, in minutes: mean, median and 90th percentile, in business time
--   (the order's calendar, minus pauses) and in wall-clock time.
-- unit: minutes
-- grain: one row per group
-- param: from timestamp = 1970-01-01 | start of the period (inclusive): first arrival
-- param: to timestamp = 2100-01-01 | end of the period (exclusive)
-- param: region text? | only this region
-- param: priority text? | only this priority
-- dimensions: day, week, month, region, priority, tier, product, model, technician, agent, customer
-- audience: admin, manager, dispatcher, partner
-- notes: Orders without an arrival are not counted (see sla_response_compliance for those). Percentiles are
--   exact and interpolated (percentile_cont). Wall clock is not reduced by pauses; business time is.
SELECT {{dims}}
       count(*) AS orders,
       round(avg(business_min), 2) AS business_mean_min,
       round(median(business_min), 2) AS business_median_min,
       round(percentile_cont(0.9) WITHIN GROUP (ORDER BY business_min), 2) AS business_p90_min,
       round(avg(wall_min), 2) AS wall_mean_min,
       round(median(wall_min), 2) AS wall_median_min,
       round(percentile_cont(0.9) WITHIN GROUP (ORDER BY wall_min), 2) AS wall_p90_min
FROM (
    SELECT *, first_arrival_at AS period_at,
           response_business_seconds / 60.0 AS business_min,
           (to_unixtime(first_arrival_at) - to_unixtime(opened_at)) / 60.0 AS wall_min
    FROM orders_core
    WHERE first_arrival_at IS NOT NULL AND status <> 'cancelled'
) r
WHERE period_at >= $from AND period_at < $to
  AND ($region IS NULL OR region = $region)
  AND ($priority IS NULL OR priority = $priority)
{{group_by}}
{{order_by}}
