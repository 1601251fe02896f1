-- Business calendars: the latest definition of each calendar id (a
-- re-definition replaces the calendar for every order that names it).
-- entity: key=calendar_id
SELECT calendar_id, calendar_json, defined_at FROM (
    SELECT calendar_id,
           json_str(payload, 'calendar') AS calendar_json,
           occurred_at AS defined_at,
           row_number() OVER (PARTITION BY calendar_id ORDER BY occurred_at DESC, event_id DESC) AS rn
    FROM events
    WHERE event_type = 'calendar_defined'
) c
WHERE rn = 1
