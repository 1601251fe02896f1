-- name: repeat_visit_rate
-- title: Repeat visit rate
-- description: Completed orders followed by another corrective order for the same equipment within 7, 14 and
--   30 days of completion, as counts and percent of the completed orders.
-- unit: percent
-- grain: one row per group
-- param: from timestamp = 1970-01-01 | start of the period (inclusive): completion
-- param: to timestamp = 2100-01-01 | end of the period (exclusive)
-- param: region text? | only this region
-- param: repeat_types text = corrective | order types (comma-separated: corrective, preventive, installation) that count as a repeat
-- dimensions: day, week, month, region, priority, tier, product, model, technician, agent, customer
-- audience: admin, manager, dispatcher, technician, engineer, partner
-- notes: "Followed" = the next order for the equipment opened after this order's completion (orders opened
--   while this one was still running do not count) whose type is one of repeat_types; cancelled follow-ups
--   count (the customer called again). A planned maintenance or installation order is no repeat, as in
--   first_time_fix_rate. Changed 2026-12: before, an order of any type counted;
--   repeat_types=corrective,preventive,installation gives the former numbers.
WITH done AS (
    SELECT * FROM orders_core
    WHERE resolution_stopped_at IS NOT NULL AND status <> 'cancelled'
      AND resolution_stopped_at >= $from AND resolution_stopped_at < $to
      AND ($region IS NULL OR region = $region)
), nxt AS (
    -- only gaps up to 30 days are counted below: the pairs further apart are not formed
    SELECT d.order_id, min(n.opened_s - d.stopped_s) AS gap_s
    FROM (SELECT order_id, equipment_id, resolution_stopped_at, to_unixtime(resolution_stopped_at) AS stopped_s
          FROM done) d
    JOIN (SELECT order_id, equipment_id, opened_at, order_type, to_unixtime(opened_at) AS opened_s
          FROM orders_core) n
      ON n.equipment_id = d.equipment_id AND n.order_id <> d.order_id AND n.opened_at > d.resolution_stopped_at
     AND n.opened_s <= d.stopped_s + 30 * 86400
    WHERE array_has(string_to_array(replace($repeat_types, ' ', ''), ','), n.order_type)
    GROUP BY d.order_id
), scored AS (
    SELECT d.*, d.resolution_stopped_at AS period_at, x.gap_s FROM nxt x RIGHT JOIN done d ON d.order_id = x.order_id
)
SELECT {{dims}}
       count(*) AS orders,
       count(*) FILTER (WHERE gap_s <= 7 * 86400) AS repeat_7d,
       count(*) FILTER (WHERE gap_s <= 14 * 86400) AS repeat_14d,
       count(*) FILTER (WHERE gap_s <= 30 * 86400) AS repeat_30d,
       round(100.0 * count(*) FILTER (WHERE gap_s <= 7 * 86400) / nullif(count(*), 0), 2) AS repeat_7d_pct,
       round(100.0 * count(*) FILTER (WHERE gap_s <= 14 * 86400) / nullif(count(*), 0), 2) AS repeat_14d_pct,
       round(100.0 * count(*) FILTER (WHERE gap_s <= 30 * 86400) / nullif(count(*), 0), 2) AS repeat_30d_pct
FROM scored
{{group_by}}
{{order_by}}
