-- name: technician_utilization
-- title: Technician utilization
-- description: (Work + travel time) ÷ scheduled shift time, per technician and summed over the groups.
-- unit: percent
-- grain: one row per group; without a group, one row for everyone
-- param: from timestamp = 2026-01-01 | start of the period (inclusive)
-- param: to timestamp = 2026-02-01 | end of the period (exclusive)
-- param: region text? | only technicians of this home region
-- dimensions: technician, agent, region
-- audience: admin, manager, dispatcher, technician, partner
-- notes: Shift time = business time of the technician's shift calendar within the period and the employment
--   (hired .. left). Work = minutes logged on visits that ended in the period; travel = travel start → arrival
--   of visits that arrived in the period. Groups sum work, travel and shift before dividing.
WITH techs AS (
    SELECT t.technician_id, t.agent_id, t.region,
           business_seconds(c.calendar_json, greatest(t.hired_at, $from), least(coalesce(t.left_at, $to), $to))
               AS shift_s
    FROM technicians t LEFT JOIN calendars c ON t.shift_calendar_id = c.calendar_id
    WHERE ($region IS NULL OR t.region = $region)
), work AS (
    SELECT technician_id, sum(work_minutes) * 60 AS work_s FROM visits
    WHERE ended_at >= $from AND ended_at < $to GROUP BY technician_id
), travel AS (
    SELECT technician_id, sum(to_unixtime(arrived_at) - to_unixtime(travel_started_at)) AS travel_s FROM visits
    WHERE arrived_at >= $from AND arrived_at < $to AND travel_started_at IS NOT NULL GROUP BY technician_id
), r AS (
    SELECT k.technician_id, k.agent_id, k.region, coalesce(k.shift_s, 0) AS shift_s,
           coalesce(w.work_s, 0) AS work_s, coalesce(v.travel_s, 0) AS travel_s
    FROM techs k
    LEFT JOIN work w ON k.technician_id = w.technician_id
    LEFT JOIN travel v ON k.technician_id = v.technician_id
)
SELECT {{dims}}
       count(*) AS technicians,
       round(sum(work_s) / 3600.0, 2) AS work_hours,
       round(sum(travel_s) / 3600.0, 2) AS travel_hours,
       round(sum(shift_s) / 3600.0, 2) AS shift_hours,
       round(100.0 * (sum(work_s) + sum(travel_s)) / nullif(sum(shift_s), 0), 2) AS utilization_pct
FROM r
{{group_by}}
{{order_by}}
