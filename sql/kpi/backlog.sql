-- name: backlog
-- title: Backlog
-- description: Open orders at fh_now() (the as-of instant), with age and SLA states, next to breach first.
-- unit: orders (a list)
-- grain: one row per open order
-- param: region text? | only this region
-- param: priority text? | only this priority
-- param: within_hours float? | only orders whose next deadline is within this many hours (or already passed)
-- dimensions:
-- audience: admin, manager, dispatcher, technician, partner
-- notes: Open = not cancelled and not completed after its last reopening. next_deadline = the earlier of the
--   response deadline (while nobody has arrived) and the resolution deadline; a paused clock has none (NULL,
--   listed last). Ages in wall-clock hours. response_state: met or breached once someone has arrived (a late
--   arrival stays breached), else on_track / at_risk / breached at the reference instant.
SELECT order_id, priority, region, tier, technician_id, agent_id, opened_at,
       round((to_unixtime(fh_now()) - to_unixtime(opened_at)) / 3600.0, 2) AS age_hours,
       response_state,
       resolution_state,
       next_deadline,
       round((to_unixtime(next_deadline) - to_unixtime(fh_now())) / 3600.0, 2) AS hours_to_deadline
FROM (
    SELECT *,
           CASE WHEN first_arrival_at IS NULL THEN least(response_deadline, resolution_deadline)
                ELSE resolution_deadline END AS next_deadline
    FROM orders
    WHERE status = 'open'
) b
WHERE ($region IS NULL OR region = $region)
  AND ($priority IS NULL OR priority = $priority)
  AND ($within_hours IS NULL
       OR (to_unixtime(next_deadline) - to_unixtime(fh_now())) <= $within_hours * 3600)
ORDER BY next_deadline ASC NULLS LAST, opened_at, order_id
