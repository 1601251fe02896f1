-- What followed a completed order on its unit: per order with a resolution stop (orders_core's
-- resolution_stopped_at) and type of order that followed it, the first opening of another order of that
-- type for the same equipment after that stop. One row per order and following type; an order nothing
-- followed has none.
--
-- The repeat test of first_time_fix_rate, technician_scorecard and repeat_visit_rate ("another order of
-- repeat_types for the same equipment opened after the completion and within N days") reads this instead
-- of pairing every completion with the later orders of its unit at every read: an order is a repeat iff
-- the first later opening of one of the repeat types is within the window (the window is a parameter, so
-- the first opening is kept, not a flag). On the 13.5 M-event lake that pairing was a hash join of 1.7 M
-- candidate pairs on the unit id in every read of those KPIs.
--
-- Keyed by equipment_id: a new order of a unit changes the rows of the unit's earlier orders. It follows
-- orders_core by order_id: the orders whose orders_core rows changed in a pass recompute their units
-- (looked up in this table and in orders_core's new rows, which name the unit of an order this table
-- has no row for yet).
-- entity: key=equipment_id follows=orders_core.order_id
WITH o AS (
    SELECT order_id, equipment_id, order_type, opened_at, resolution_stopped_at FROM orders_core
)
SELECT d.order_id, d.equipment_id, d.order_type, d.resolution_stopped_at,
       n.order_type AS next_type, min(n.opened_at) AS next_opened_at
FROM o d
JOIN o n ON n.equipment_id = d.equipment_id AND n.order_id <> d.order_id AND n.opened_at > d.resolution_stopped_at
GROUP BY d.order_id, d.equipment_id, d.order_type, d.resolution_stopped_at, n.order_type
