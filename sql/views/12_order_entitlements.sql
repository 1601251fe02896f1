-- Order entitlements: one row per order whose entitlement was checked, with
-- the latest check's outcome (entitlement code), its contract, and that
-- contract's tier and pause rule (pause_on_parts false without a contract).
--
-- A view, not a CTE of `orders`, because `orders` reads it twice (for the
-- order row and for which pauses stop its clock): DataFusion inlines a CTE at
-- every reference, a view is computed once per query.
-- entity: key=order_id follows=contracts.contract_id
SELECT e.order_id, e.entitlement, e.contract_id, c.tier, coalesce(c.pause_on_parts, false) AS pause_on_parts
FROM (
    SELECT order_id,
           first_value(code ORDER BY occurred_at DESC, event_id DESC) AS entitlement,
           first_value(contract_id ORDER BY occurred_at DESC, event_id DESC) AS contract_id
    FROM events WHERE event_type = 'entitlement_checked' AND order_id IS NOT NULL
    GROUP BY order_id
) e
LEFT JOIN contracts c ON e.contract_id = c.contract_id
