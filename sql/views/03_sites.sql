-- Sites with region, position and time zone, latest registration per id.
SELECT site_id, customer_id, name, region, lat, lon, time_zone FROM (
    SELECT site_id, customer_id,
           json_str(payload, 'name') AS name,
           region, lat, lon,
           json_str(payload, 'time_zone') AS time_zone,
           row_number() OVER (PARTITION BY site_id ORDER BY occurred_at DESC, event_id DESC) AS rn
    FROM events
    WHERE event_type = 'site_registered'
) s
WHERE rn = 1
