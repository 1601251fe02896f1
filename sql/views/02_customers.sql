-- Customers, latest registration per id.
SELECT customer_id, name, segment, payment_terms_days FROM (
    SELECT customer_id,
           json_str(payload, 'name') AS name,
           code AS segment,
           json_int(payload, 'payment_terms_days') AS payment_terms_days,
           row_number() OVER (PARTITION BY customer_id ORDER BY occurred_at DESC, event_id DESC) AS rn
    FROM events
    WHERE event_type = 'customer_registered'
) c
WHERE rn = 1
