-- Part consumption: one row per part_consumed event, with the part's
-- component and list price; cost_cents = quantity × unit cost.
-- entity: key=order_id follows=parts.part_id
SELECT e.order_id, e.visit_id, e.technician_id, e.agent_id, e.part_id, e.location_id,
       e.quantity, e.amount_cents AS cost_cents, e.occurred_at AS consumed_at,
       p.component, p.part_number, p.price_cents * e.quantity AS list_value_cents
FROM events e
LEFT JOIN parts p ON e.part_id = p.part_id
WHERE e.event_type = 'part_consumed'
