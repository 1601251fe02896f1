-- Spare parts with component, cost and list price (cents).
-- entity: key=part_id
SELECT part_id, part_number, description, component, cost_cents, price_cents, currency FROM (
    SELECT part_id,
           json_str(payload, 'part_number') AS part_number,
           json_str(payload, 'description') AS description,
           code AS component,
           json_int(payload, 'cost_cents') AS cost_cents,
           amount_cents AS price_cents,
           currency,
           row_number() OVER (PARTITION BY part_id ORDER BY occurred_at DESC, event_id DESC) AS rn
    FROM events
    WHERE event_type = 'part_defined'
) p
WHERE rn = 1
