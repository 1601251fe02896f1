-- Product models with manufacturer and standard repair time.
-- entity: key=product_id
SELECT product_id, manufacturer_id, model, family, standard_repair_minutes, warranty_months FROM (
    SELECT product_id, manufacturer_id,
           json_str(payload, 'model') AS model,
           json_str(payload, 'family') AS family,
           minutes AS standard_repair_minutes,
           json_int(payload, 'warranty_months') AS warranty_months,
           row_number() OVER (PARTITION BY product_id ORDER BY occurred_at DESC, event_id DESC) AS rn
    FROM events
    WHERE event_type = 'product_defined'
) p
WHERE rn = 1
