-- Technicians: region, employer (agent_id NULL = own staff), shift calendar,
-- hired and left instants.
-- entity: key=technician_id
SELECT h.technician_id, h.name, h.region, h.agent_id, h.shift_calendar_id, h.hired_at, l.left_at
FROM (
    SELECT technician_id,
           json_str(payload, 'name') AS name,
           region, agent_id,
           calendar_id AS shift_calendar_id,
           occurred_at AS hired_at,
           row_number() OVER (PARTITION BY technician_id ORDER BY occurred_at DESC, event_id DESC) AS rn
    FROM events
    WHERE event_type = 'technician_hired'
) h
LEFT JOIN (
    SELECT technician_id, max(occurred_at) AS left_at
    FROM events WHERE event_type = 'technician_left' GROUP BY technician_id
) l ON h.technician_id = l.technician_id
WHERE h.rn = 1
