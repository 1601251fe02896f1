-- Invoice lines, unnested from the invoice payload.
-- entity: key=invoice_id
SELECT invoice_id, order_id, issued_at,
       json_str(line, 'kind') AS kind,
       json_str(line, 'description') AS description,
       json_str(line, 'part_id') AS part_id,
       json_int(line, 'quantity_milli') AS quantity_milli,
       json_int(line, 'unit_price_cents') AS unit_price_cents,
       json_int(line, 'amount_cents') AS amount_cents
FROM (
    SELECT invoice_id, order_id, occurred_at AS issued_at, unnest(json_array(payload, 'lines')) AS line
    FROM events WHERE event_type = 'invoice_issued'
) l
