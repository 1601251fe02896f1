-- Visits: one row per visit (opened by travel_started), with travel, arrival,
-- end, outcome, logged work and its position among the order's visits.
-- entity: key=order_id
SELECT v.*,
       row_number() OVER (PARTITION BY order_id ORDER BY coalesce(travel_started_at, arrived_at, ended_at), visit_id)
           AS visit_seq
FROM (
    SELECT visit_id,
           max(order_id) AS order_id,
           max(technician_id) AS technician_id,
           max(agent_id) AS agent_id,
           min(occurred_at) FILTER (WHERE event_type = 'travel_started') AS travel_started_at,
           min(occurred_at) FILTER (WHERE event_type = 'arrived') AS arrived_at,
           max(lat) FILTER (WHERE event_type = 'arrived') AS arrival_lat,
           max(lon) FILTER (WHERE event_type = 'arrived') AS arrival_lon,
           max(occurred_at) FILTER (WHERE event_type = 'visit_ended') AS ended_at,
           max(code) FILTER (WHERE event_type = 'visit_ended') AS outcome,
           coalesce(sum(minutes) FILTER (WHERE event_type = 'work_logged'), 0) AS work_minutes,
           count(*) FILTER (WHERE event_type = 'part_consumed') AS part_lines
    FROM events
    WHERE visit_id IS NOT NULL
      AND event_type IN ('travel_started', 'arrived', 'work_logged', 'part_consumed', 'visit_ended')
    GROUP BY visit_id
) v
