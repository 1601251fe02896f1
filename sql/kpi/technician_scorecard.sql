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
WITH repeat AS (
    -- Corrective orders followed within the window by an order of repeat_types (order_followups keeps, per
    -- order and following type, the first opening after the completion), as in first_time_fix_rate.
    SELECT DISTINCT f.order_id FROM order_followups f
    WHERE f.resolution_stopped_at >= $from AND f.resolution_stopped_at < $to AND f.order_type = 'corrective'
      AND array_has(string_to_array(replace($repeat_types, ' ', ''), ','), f.next_type)
      AND to_unixtime(f.next_opened_at) <= to_unixtime(f.resolution_stopped_at) + $window_days * 86400
), per_order AS (
    -- One pass over the orders for the completions, the first-time fixes, the response SLA and CSAT, each
    -- with its own period (not three passes over orders_core and orders).
    SELECT o.technician_id, o.visit_count, o.reopen_count, o.first_visit_outcome, o.order_type,
           o.response_state, o.csat, r.order_id AS repeat_of,
           (o.status <> 'cancelled' AND o.resolution_stopped_at >= $from AND o.resolution_stopped_at < $to) AS done,
           (o.status <> 'cancelled' AND o.response_state IN ('met', 'breached')
            AND coalesce(o.first_arrival_at, o.response_deadline) >= $from
            AND coalesce(o.first_arrival_at, o.response_deadline) < $to) AS resp,
           (o.closed_at >= $from AND o.closed_at < $to) AS closed
    FROM repeat r RIGHT JOIN orders o ON o.order_id = r.order_id
), per_tech AS (
    SELECT technician_id,
           count(*) FILTER (WHERE done) AS completed,
           count(*) FILTER (WHERE done AND visit_count = 1 AND reopen_count = 0
                            AND first_visit_outcome = 'fixed') AS fixed_first_visit,
           count(*) FILTER (WHERE done AND visit_count >= 1 AND order_type = 'corrective') AS ftf_orders,
           count(*) FILTER (WHERE done AND visit_count >= 1 AND order_type = 'corrective'
                            AND visit_count = 1 AND reopen_count = 0 AND first_visit_outcome = 'fixed'
                            AND repeat_of IS NULL) AS first_time_fixed,
           count(*) FILTER (WHERE resp AND response_state = 'met') AS response_met,
           count(*) FILTER (WHERE resp AND response_state = 'breached') AS response_breached,
           avg(csat) FILTER (WHERE closed) AS csat_mean
    FROM per_order
    GROUP BY technician_id
), vis AS (
    SELECT technician_id, count(*) AS visits, sum(work_minutes) AS work_minutes FROM visits
    WHERE ended_at >= $from AND ended_at < $to GROUP BY technician_id
)
SELECT t.technician_id, t.name, t.agent_id, t.region,
       coalesce(p.completed, 0) AS completed,
       coalesce(p.fixed_first_visit, 0) AS fixed_first_visit,
       coalesce(p.ftf_orders, 0) AS ftf_orders,
       coalesce(p.first_time_fixed, 0) AS first_time_fixed,
       round(100.0 * p.first_time_fixed / nullif(p.ftf_orders, 0), 2) AS ftf_pct,
       coalesce(v.visits, 0) AS visits,
       round(coalesce(v.work_minutes, 0) / 60.0, 2) AS work_hours,
       coalesce(p.response_met, 0) AS response_met,
       coalesce(p.response_breached, 0) AS response_breached,
       round(100.0 * p.response_met / nullif(p.response_met + p.response_breached, 0), 2) AS response_compliance_pct,
       round(p.csat_mean, 2) AS csat_mean
FROM technicians t
LEFT JOIN per_tech p ON t.technician_id = p.technician_id
LEFT JOIN vis v ON t.technician_id = v.technician_id
WHERE ($region IS NULL OR t.region = $region)
ORDER BY t.technician_id
