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
    -- the gap to the first later opening of one of repeat_types (order_followups: per order and following
    -- type, the first opening after the completion), up to 30 days: the longest gap counted below
    SELECT f.order_id, min(to_unixtime(f.next_opened_at) - to_unixtime(f.resolution_stopped_at)) AS gap_s
    FROM order_followups f
    WHERE f.resolution_stopped_at >= $from AND f.resolution_stopped_at < $to
      AND array_has(string_to_array(replace($repeat_types, ' ', ''), ','), f.next_type)
      AND to_unixtime(f.next_opened_at) <= to_unixtime(f.resolution_stopped_at) + 30 * 86400
    GROUP BY f.order_id
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
