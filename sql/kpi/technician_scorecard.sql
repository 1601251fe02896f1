-- name: technician_scorecard
-- title: Technician scorecard
-- description: Per technician: orders completed, visits, work hours, first-visit fixes, first-time fixes (as
--   first_time_fix_rate counts them), response SLA met and breached, and mean CSAT.
-- unit: mixed
-- grain: one row per technician
-- param: from timestamp = 1970-01-01 | start of the period (inclusive)
-- param: to timestamp = 2100-01-01 | end of the period (exclusive)
-- param: region text? | only technicians of this home region
-- param: window_days int = 30 | first-time fix: a new order for the same equipment within this many days spoils the fix
-- param: repeat_types text = corrective | first-time fix: order types (comma-separated) whose new order spoils the fix
-- dimensions:
-- audience: admin, manager, dispatcher, technician, partner
-- notes: An order is credited to its current (last assigned) technician. Completed = final completion in the
--   period; fixed_first_visit = completed orders with exactly one visit whose outcome is `fixed` and never
--   reopened (no look-ahead). ftf_orders / first_time_fixed / ftf_pct = first_time_fix_rate by technician:
--   corrective orders with a visit completed in the period, fixed on the only visit, never reopened, and no
--   new order of repeat_types (default corrective: planned maintenance is no repeat) for the same equipment
--   within window_days of the completion. Response SLA by the clock's end as in
--   sla_response_compliance. Visits and work by the visit's end. CSAT by closing.
WITH stops AS (
    SELECT order_id, equipment_id, resolution_stopped_at,
           to_unixtime(resolution_stopped_at) + $window_days * 86400 AS window_end
    FROM orders_core
    WHERE order_type = 'corrective' AND resolution_stopped_at >= $from AND resolution_stopped_at < $to
), opens AS (
    SELECT order_id, equipment_id, opened_at, to_unixtime(opened_at) AS opened_s FROM orders_core
    WHERE array_has(string_to_array(replace($repeat_types, ' ', ''), ','), order_type)
), repeat AS (
    -- the window's end computed once per order, not once per pair of orders of the same unit
    SELECT d.order_id FROM stops d JOIN opens n
      ON n.equipment_id = d.equipment_id AND n.order_id <> d.order_id AND n.opened_at > d.resolution_stopped_at
     AND n.opened_s <= d.window_end
    GROUP BY d.order_id
), done AS (
    -- completed in the period (one pass over the orders): all of them, and the corrective ones
    -- with a visit that first_time_fix_rate counts
    SELECT o.technician_id, count(*) AS completed,
           count(*) FILTER (WHERE o.visit_count = 1 AND o.reopen_count = 0 AND o.first_visit_outcome = 'fixed') AS fixed_first_visit,
           count(*) FILTER (WHERE o.visit_count >= 1 AND o.order_type = 'corrective') AS ftf_orders,
           count(*) FILTER (WHERE o.visit_count >= 1 AND o.order_type = 'corrective'
                            AND o.visit_count = 1 AND o.reopen_count = 0 AND o.first_visit_outcome = 'fixed'
                            AND r.order_id IS NULL) AS first_time_fixed
    FROM repeat r RIGHT JOIN orders_core o ON o.order_id = r.order_id
    WHERE o.status <> 'cancelled' AND o.resolution_stopped_at >= $from AND o.resolution_stopped_at < $to
    GROUP BY o.technician_id
), resp AS (
    SELECT technician_id,
           count(*) FILTER (WHERE response_state = 'met') AS response_met,
           count(*) FILTER (WHERE response_state = 'breached') AS response_breached
    FROM orders
    WHERE status <> 'cancelled' AND response_state IN ('met', 'breached')
      AND coalesce(first_arrival_at, response_deadline) >= $from AND coalesce(first_arrival_at, response_deadline) < $to
    GROUP BY technician_id
), vis AS (
    SELECT technician_id, count(*) AS visits, sum(work_minutes) AS work_minutes FROM visits
    WHERE ended_at >= $from AND ended_at < $to GROUP BY technician_id
), sat AS (
    SELECT technician_id, avg(csat) AS csat_mean FROM orders_core
    WHERE closed_at >= $from AND closed_at < $to GROUP BY technician_id
)
SELECT t.technician_id, t.name, t.agent_id, t.region,
       coalesce(d.completed, 0) AS completed,
       coalesce(d.fixed_first_visit, 0) AS fixed_first_visit,
       coalesce(d.ftf_orders, 0) AS ftf_orders,
       coalesce(d.first_time_fixed, 0) AS first_time_fixed,
       round(100.0 * d.first_time_fixed / nullif(d.ftf_orders, 0), 2) AS ftf_pct,
       coalesce(v.visits, 0) AS visits,
       round(coalesce(v.work_minutes, 0) / 60.0, 2) AS work_hours,
       coalesce(r.response_met, 0) AS response_met,
       coalesce(r.response_breached, 0) AS response_breached,
       round(100.0 * r.response_met / nullif(r.response_met + r.response_breached, 0), 2) AS response_compliance_pct,
       round(s.csat_mean, 2) AS csat_mean
FROM technicians t
LEFT JOIN done d ON t.technician_id = d.technician_id
LEFT JOIN resp r ON t.technician_id = r.technician_id
LEFT JOIN vis v ON t.technician_id = v.technician_id
LEFT JOIN sat s ON t.technician_id = s.technician_id
WHERE ($region IS NULL OR t.region = $region)
ORDER BY t.technician_id
