-- name: stockout_delays
-- title: Orders delayed by a missing part
-- description: Orders that waited for parts (an order_paused with reason waiting_for_parts), how many waits,
--   and the wall-clock hours spent waiting.
-- unit: orders and hours
-- grain: one row per group
-- param: from timestamp = 1970-01-01 | start of the period (inclusive): start of the wait
-- param: to timestamp = 2100-01-01 | end of the period (exclusive)
-- param: region text? | only this region
-- dimensions: day, week, month, region, priority, tier, product, model, technician, agent, customer
-- audience: admin, manager, dispatcher, engineer, partner
-- notes: Every wait for parts counts, whether or not the contract pauses the SLA clock for it. A wait still
--   open is measured up to fh_now().
SELECT {{dims}}
       count(DISTINCT order_id) AS orders_delayed,
       count(*) AS waits,
       round(sum(wait_s) / 3600.0, 2) AS wait_hours,
       round(avg(wait_s) / 3600.0, 2) AS mean_wait_hours
FROM (
    SELECT o.*, p.paused_at AS period_at,
           to_unixtime(coalesce(p.resumed_at, fh_now())) - to_unixtime(p.paused_at) AS wait_s
    FROM pauses p JOIN orders_core o ON p.order_id = o.order_id
    WHERE p.reason = 'waiting_for_parts'
) r
WHERE period_at >= $from AND period_at < $to
  AND ($region IS NULL OR region = $region)
{{group_by}}
{{order_by}}
