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
-- * The calendar for sla_state is joined from `calendars` for those orders
--   only (with the same 24x7 fallback as orders_core): `calendar_json` is
--   about 1 KB an order, and reading it for every order took most of an SLA
--   KPI's time on a large lake. `orders.calendar_json` is still orders_core's.
SELECT o.* EXCLUDE (response_business_seconds, resolution_business_seconds, resolution_net_seconds),
       CASE WHEN o.first_arrival_at <= fh_now() AND o.response_deadline IS NOT NULL
            THEN CASE WHEN o.first_arrival_at > o.response_deadline THEN 'breached' ELSE 'met' END
            ELSE sla_state(coalesce(running.calendar_json, '{"name":"24x7","tz":"UTC","always_open":true}'),
                           o.opened_at, o.response_target_minutes, o.first_arrival_at, fh_now(), o.pauses)
       END AS response_state,
       CASE WHEN o.resolution_stopped_at <= fh_now() AND o.resolution_deadline IS NOT NULL
            THEN CASE WHEN o.resolution_stopped_at > o.resolution_deadline THEN 'breached' ELSE 'met' END
            ELSE sla_state(coalesce(running.calendar_json, '{"name":"24x7","tz":"UTC","always_open":true}'),
                           o.opened_at, o.resolution_target_minutes, o.resolution_stopped_at, fh_now(), o.pauses)
       END AS resolution_state,
       o.response_business_seconds, o.resolution_business_seconds, o.resolution_net_seconds
FROM orders_core o
LEFT JOIN calendars running
  ON running.calendar_id = o.calendar_id
 AND ((o.first_arrival_at <= fh_now() AND o.response_deadline IS NOT NULL) IS NOT TRUE
      OR (o.resolution_stopped_at <= fh_now() AND o.resolution_deadline IS NOT NULL) IS NOT TRUE)
