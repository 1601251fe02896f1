-- Service agents (partner companies).
-- entity: key=agent_id
SELECT agent_id, name FROM (
    SELECT agent_id, json_str(payload, 'name') AS name,
           row_number() OVER (PARTITION BY agent_id ORDER BY occurred_at DESC, event_id DESC) AS rn
    FROM events WHERE event_type = 'agent_registered'
) a
WHERE rn = 1
