-- Manufacturers.
-- entity: key=manufacturer_id
SELECT manufacturer_id, name FROM (
    SELECT manufacturer_id, json_str(payload, 'name') AS name,
           row_number() OVER (PARTITION BY manufacturer_id ORDER BY occurred_at DESC, event_id DESC) AS rn
    FROM events WHERE event_type = 'manufacturer_registered'
) m
WHERE rn = 1
