-- Service orders: one row per order with its lifecycle times, current
-- priority and SLA targets (after priority changes), entitlement and
-- contract/tier, region (via the site), product/model, the assigned
-- technician/agent, pauses, SLA deadlines and states at fh_now().
--
-- Choices:
-- * Priority and targets: the latest of order_opened / priority_changed; the
--   deadlines are recomputed from the opening with the latest targets
--   (a priority change never loses waiting time).
-- * Pauses: waiting_for_customer always pauses the clock; waiting_for_parts
--   only under a contract with pause_on_parts (no contract: no parts pause).
--   Pauses are measured in business time by the UDFs.
-- * Reopened orders: the resolution clock stops at a completion after the
--   last reopening; until then it runs (resolution_stopped_at NULL).
-- * An order whose calendar is unknown falls back to 24x7 UTC.
-- * status: cancelled | open | completed | closed.
-- * What the opening said (type, site, product, calendar ...) comes from the
--   order_heads view (with region and model), the entitlement and contract from order_entitlements.
-- * The SLA states (response_state, resolution_state) are taken at fh_now(),
--   so they are computed at read time over `orders_core`, which holds the rest.
-- * A clock stopped by fh_now() whose deadline is known (no pause open: an
--   open pause would end at fh_now()) has its final state: met, or breached
--   when it stopped after the deadline. That is what sla_state gives there,
--   without the calendar arithmetic; sla_state runs for the other orders only.
SELECT * EXCLUDE (response_business_seconds, resolution_business_seconds, resolution_net_seconds),
       CASE WHEN first_arrival_at <= fh_now() AND response_deadline IS NOT NULL
            THEN CASE WHEN first_arrival_at > response_deadline THEN 'breached' ELSE 'met' END
            ELSE sla_state(calendar_json, opened_at, response_target_minutes, first_arrival_at, fh_now(), pauses)
       END AS response_state,
       CASE WHEN resolution_stopped_at <= fh_now() AND resolution_deadline IS NOT NULL
            THEN CASE WHEN resolution_stopped_at > resolution_deadline THEN 'breached' ELSE 'met' END
            ELSE sla_state(calendar_json, opened_at, resolution_target_minutes, resolution_stopped_at, fh_now(),
                           pauses)
       END AS resolution_state,
       response_business_seconds, resolution_business_seconds, resolution_net_seconds
FROM orders_core
