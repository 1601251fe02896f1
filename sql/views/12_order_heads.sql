-- Order heads: one row per order (every order with an order_opened event, the
-- same orders as `orders`), with what its opening said (order_openings) and
-- the site's region and the product's model, family and manufacturer.
--
-- `orders` takes these columns from here; a KPI that needs only these joins
-- this view rather than `orders`, whose lifecycle, SLA clocks and joins would
-- otherwise be computed for every order. A KPI that needs neither region nor
-- product reads order_openings, which joins nothing.
-- entity: key=order_id follows=order_openings.order_id,sites.site_id,products.product_id
SELECT h.order_id, h.opened_at, h.order_type, h.channel, h.customer_id, h.site_id, s.region, h.equipment_id,
       h.product_id, pr.model, pr.family, pr.manufacturer_id, h.calendar_id, h.fault_code
FROM order_openings h
LEFT JOIN sites s ON h.site_id = s.site_id
LEFT JOIN products pr ON h.product_id = pr.product_id
