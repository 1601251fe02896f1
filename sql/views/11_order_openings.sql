-- Order openings: one row per order with an order_opened event, with what its
-- opening said: when, type, channel, customer, site, equipment, product,
-- calendar and fault. The first order_opened wins.
--
-- Nothing is joined here, so a reader that needs a few of these columns pays
-- only for those: DataFusion drops the unused aggregates (order_heads adds the
-- site's region and the product's model to every row, and those joins need
-- site_id and product_id whatever the reader asks for).
--
-- first_value(.. ORDER BY ..) per group (a grouped aggregation), not row_number() = 1 (a sort and a window
-- over every order: 2-3x slower).
-- entity: key=order_id
SELECT order_id,
       min(occurred_at) AS opened_at,
       first_value(code ORDER BY occurred_at, event_id) AS order_type,
       first_value(json_str(payload, 'channel') ORDER BY occurred_at, event_id) AS channel,
       first_value(customer_id ORDER BY occurred_at, event_id) AS customer_id,
       first_value(site_id ORDER BY occurred_at, event_id) AS site_id,
       first_value(equipment_id ORDER BY occurred_at, event_id) AS equipment_id,
       first_value(product_id ORDER BY occurred_at, event_id) AS product_id,
       first_value(calendar_id ORDER BY occurred_at, event_id) AS calendar_id,
       first_value(fault_code ORDER BY occurred_at, event_id) AS fault_code
FROM events WHERE event_type = 'order_opened' AND order_id IS NOT NULL
GROUP BY order_id
