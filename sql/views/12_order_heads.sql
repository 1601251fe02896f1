-- Order heads: one row per order (every order with an order_opened event, the
-- same orders as `orders`), with what its opening said: when, type, channel,
-- customer, site and its region, equipment, product with its model, family
-- and manufacturer, calendar and fault. The first order_opened wins.
--
-- `orders` takes these columns from here; a KPI that needs only these joins
-- this view rather than `orders`, whose lifecycle, SLA clocks and joins would
-- otherwise be computed for every order.
SELECT h.order_id, h.opened_at, h.order_type, h.channel, h.customer_id, h.site_id, s.region, h.equipment_id,
       h.product_id, pr.model, pr.family, pr.manufacturer_id, h.calendar_id, h.fault_code
FROM (
    -- first_value(.. ORDER BY ..) per group (a grouped aggregation), not row_number() = 1 (a sort and a
    -- window over every order: 2-3x slower).
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
) h
LEFT JOIN sites s ON h.site_id = s.site_id
LEFT JOIN products pr ON h.product_id = pr.product_id
