-- The installed base: each unit with its product, site, install date,
-- warranty end and (if any) decommissioning date.
SELECT i.equipment_id, i.product_id, i.site_id, i.customer_id, i.serial, i.installed_on, i.warranty_end,
       d.decommissioned_on
FROM (
    SELECT equipment_id, product_id, site_id, customer_id,
           json_str(payload, 'serial') AS serial,
           business_date AS installed_on,
           CAST(json_str(payload, 'warranty_end') AS DATE) AS warranty_end,
           row_number() OVER (PARTITION BY equipment_id ORDER BY occurred_at DESC, event_id DESC) AS rn
    FROM events
    WHERE event_type = 'equipment_installed'
) i
LEFT JOIN (
    SELECT equipment_id, min(business_date) AS decommissioned_on
    FROM events WHERE event_type = 'equipment_decommissioned' GROUP BY equipment_id
) d ON i.equipment_id = d.equipment_id
WHERE i.rn = 1
