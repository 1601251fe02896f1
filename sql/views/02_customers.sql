-- Customers, latest registration per id.
-- Latest by first_value(.. ORDER BY .. DESC) per group (a grouped aggregation), not row_number() = 1: a
-- window over one-row partitions costs microseconds per partition (see 03_sites.sql).
-- entity: key=customer_id
SELECT customer_id,
       first_value(json_str(payload, 'name') ORDER BY occurred_at DESC, event_id DESC) AS name,
       first_value(code ORDER BY occurred_at DESC, event_id DESC) AS segment,
       first_value(json_int(payload, 'payment_terms_days') ORDER BY occurred_at DESC, event_id DESC)
           AS payment_terms_days
FROM events
WHERE event_type = 'customer_registered'
GROUP BY customer_id
