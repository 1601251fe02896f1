-- name: first_time_fix_rate
-- title: First-time-fix rate
-- description: Orders needing a visit that were fixed on the first visit and had no new corrective order for
--   the same equipment within 30 days ÷ all orders needing a visit (Aberdeen, TSIA; best in class 88 %,
--   average 80 %).
-- unit: percent
-- grain: one row per group
-- param: from timestamp = 1970-01-01 | start of the period (inclusive): completion
-- param: to timestamp = 2100-01-01 | end of the period (exclusive)
-- param: order_type text = corrective | only orders of this type
-- param: window_days int = 30 | a new order for the same equipment within this many days spoils the fix
-- param: repeat_types text = corrective | order types (comma-separated: corrective, preventive, installation) whose new order spoils the fix
-- param: region text? | only this region
-- dimensions: day, week, month, region, priority, tier, product, model, technician, agent, customer
-- audience: admin, manager, dispatcher, technician, engineer, partner
-- notes: Counted: completed, not cancelled orders with at least one visit, by completion time. First-time
--   fixed = exactly one visit, its outcome `fixed`, never reopened, and no other order of repeat_types for the
--   same equipment opened after the completion and within window_days (a boundary exactly window_days after
--   the completion is inside). A planned maintenance (preventive) or installation order is not a return for
--   the same problem and does not spoil a fix. Changed 2026-12: before, an order of any type spoiled it;
--   repeat_types=corrective,preventive,installation gives the former numbers, also for as-of requests.
--   Cancelled follow-ups count (the customer called again).
WITH done AS (
    SELECT * FROM orders_core
    WHERE resolution_stopped_at IS NOT NULL AND status <> 'cancelled' AND visit_count >= 1
      AND resolution_stopped_at >= $from AND resolution_stopped_at < $to
      AND order_type = $order_type
      AND ($region IS NULL OR region = $region)
), repeat AS (
    -- Orders followed within the window by an order of repeat_types: order_followups keeps, per order and
    -- following type, the first opening after the completion (no pairing of the unit's orders here).
    SELECT DISTINCT f.order_id FROM order_followups f
    WHERE f.resolution_stopped_at >= $from AND f.resolution_stopped_at < $to AND f.order_type = $order_type
      AND array_has(string_to_array(replace($repeat_types, ' ', ''), ','), f.next_type)
      AND to_unixtime(f.next_opened_at) <= to_unixtime(f.resolution_stopped_at) + $window_days * 86400
), scored AS (
    SELECT d.*, d.resolution_stopped_at AS period_at,
           (d.visit_count = 1 AND d.first_visit_outcome = 'fixed' AND d.reopen_count = 0 AND r.order_id IS NULL) AS ftf
    FROM repeat r RIGHT JOIN done d ON d.order_id = r.order_id
)
SELECT {{dims}}
       count(*) AS orders,
       count(*) FILTER (WHERE ftf) AS first_time_fixed,
       round(100.0 * count(*) FILTER (WHERE ftf) / nullif(count(*), 0), 2) AS ftf_pct
FROM scored
{{group_by}}
{{order_by}}
