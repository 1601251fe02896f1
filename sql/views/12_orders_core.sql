-- Service orders without the SLA states at fh_now(): everything of `orders`
-- that depends on the events alone (lifecycle times, priority and targets,
-- entitlement, region and model, assignment, pauses, deadlines, business
-- times), one row per order. `orders` (13_orders.sql) adds the two states.
-- This is what the lake's entity table `orders_core` holds (kept current at
-- every commit); the states move with the clock and are computed at read time.
-- KPIs that need no SLA state read `orders_core`, not `orders`: `orders` joins
-- the calendar of every order whose clock runs (1.34 s -> 0.99 s for
-- billing_leakage on the 13.5 M-event lake).
--
-- The rules (as in `orders`): one row per order with its lifecycle times, current
-- priority and SLA targets (after priority changes), entitlement and
-- contract/tier, region (via the site), product/model, the assigned
-- technician/agent, pauses and SLA deadlines (the states are `orders`'s).
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
-- * first_visit_outcome: the outcome of the order's first visit (`visits`, visit_seq 1), kept here so
--   that the first-time-fix KPIs need no join with `visits`.
-- entity: key=order_id follows=order_heads.order_id,order_entitlements.order_id,calendars.calendar_id,pauses.order_id,visits.order_id
WITH life_by_visit AS (
    -- Per order and visit first, then per order: count(DISTINCT visit_id) in one grouping kept a set of
    -- visit ids per order in every partial aggregate (5.5 GB of state for 1.2 M groups on the large lake).
    SELECT order_id, visit_id,
           min(occurred_at) FILTER (WHERE event_type = 'order_opened') AS opened_at,
           min(occurred_at) FILTER (WHERE event_type IN ('order_assigned', 'order_reassigned')) AS assigned_at,
           min(occurred_at) FILTER (WHERE event_type = 'arrived') AS first_arrival_at,
           min(occurred_at) FILTER (WHERE event_type = 'order_completed') AS first_completed_at,
           max(occurred_at) FILTER (WHERE event_type = 'order_completed') AS completed_at,
           max(occurred_at) FILTER (WHERE event_type = 'order_closed') AS closed_at,
           max(occurred_at) FILTER (WHERE event_type = 'order_cancelled') AS cancelled_at,
           max(occurred_at) FILTER (WHERE event_type = 'order_reopened') AS reopened_at,
           count(*) FILTER (WHERE event_type = 'order_reopened') AS reopen_count,
           count(*) FILTER (WHERE event_type IN ('travel_started', 'arrived')) AS visit_events,
           sum(minutes) FILTER (WHERE event_type = 'work_logged') AS work_minutes,
           sum(quantity) FILTER (WHERE event_type = 'part_consumed') AS parts_quantity,
           sum(amount_cents) FILTER (WHERE event_type = 'part_consumed') AS parts_cost_cents
    FROM events
    WHERE order_id IS NOT NULL
      AND event_type IN ('order_opened', 'order_assigned', 'order_reassigned', 'arrived', 'travel_started',
                         'order_completed', 'order_closed', 'order_cancelled', 'order_reopened', 'work_logged',
                         'part_consumed')
    GROUP BY order_id, visit_id
), life AS (
    SELECT order_id,
           min(opened_at) AS opened_at,
           min(assigned_at) AS assigned_at,
           min(first_arrival_at) AS first_arrival_at,
           min(first_completed_at) AS first_completed_at,
           max(completed_at) AS completed_at,
           max(closed_at) AS closed_at,
           max(cancelled_at) AS cancelled_at,
           max(reopened_at) AS reopened_at,
           sum(reopen_count) AS reopen_count,
           count(*) FILTER (WHERE visit_id IS NOT NULL AND visit_events > 0) AS visit_count,
           coalesce(sum(work_minutes), 0) AS work_minutes,
           coalesce(sum(parts_quantity), 0) AS parts_quantity,
           coalesce(sum(parts_cost_cents), 0) AS parts_cost_cents
    FROM life_by_visit
    GROUP BY order_id
), prio AS (
    SELECT order_id,
           first_value(priority ORDER BY occurred_at DESC, (event_type = 'priority_changed') DESC, event_id DESC)
               AS priority,
           first_value(response_due_at
                       ORDER BY occurred_at DESC, (event_type = 'priority_changed') DESC, event_id DESC)
               AS response_due_at,
           first_value(resolution_due_at
                       ORDER BY occurred_at DESC, (event_type = 'priority_changed') DESC, event_id DESC)
               AS resolution_due_at,
           first_value(json_int(payload, 'response_target_minutes')
                       ORDER BY occurred_at DESC, (event_type = 'priority_changed') DESC, event_id DESC)
               AS response_target_minutes,
           first_value(json_int(payload, 'resolution_target_minutes')
                       ORDER BY occurred_at DESC, (event_type = 'priority_changed') DESC, event_id DESC)
               AS resolution_target_minutes,
           count(*) - 1 AS priority_changes
    FROM events WHERE event_type IN ('order_opened', 'priority_changed') AND order_id IS NOT NULL
    GROUP BY order_id
), assignment AS (
    SELECT order_id,
           first_value(technician_id ORDER BY occurred_at DESC, event_id DESC) AS technician_id,
           first_value(agent_id ORDER BY occurred_at DESC, event_id DESC) AS agent_id
    FROM events WHERE event_type IN ('order_assigned', 'order_reassigned') AND order_id IS NOT NULL
    GROUP BY order_id
), closing AS (
    SELECT order_id, first_value(csat ORDER BY occurred_at DESC, event_id DESC) AS csat
    FROM events WHERE event_type = 'order_closed' AND order_id IS NOT NULL
    GROUP BY order_id
), base AS (
    SELECT l.order_id, l.opened_at, o.order_type, o.channel, o.customer_id, o.site_id, o.equipment_id,
           o.product_id, o.calendar_id, o.fault_code,
           p.priority, p.priority_changes, p.response_due_at, p.resolution_due_at,
           p.response_target_minutes, p.resolution_target_minutes,
           e.entitlement, e.contract_id, e.tier, coalesce(e.pause_on_parts, false) AS pause_on_parts,
           a.technician_id, a.agent_id, o.region, o.model, o.family, o.manufacturer_id,
           coalesce(cal.calendar_json, '{"name":"24x7","tz":"UTC","always_open":true}') AS calendar_json,
           l.assigned_at, l.first_arrival_at, l.first_completed_at, l.completed_at, l.closed_at, l.cancelled_at,
           l.reopened_at, l.reopen_count, l.visit_count, l.work_minutes, l.parts_quantity, l.parts_cost_cents,
           cl.csat,
           CASE WHEN l.completed_at IS NOT NULL AND (l.reopened_at IS NULL OR l.completed_at > l.reopened_at)
                THEN l.completed_at END AS resolution_stopped_at
    FROM life l
    JOIN order_heads o ON l.order_id = o.order_id
    LEFT JOIN prio p ON l.order_id = p.order_id
    LEFT JOIN order_entitlements e ON l.order_id = e.order_id
    LEFT JOIN assignment a ON l.order_id = a.order_id
    LEFT JOIN calendars cal ON o.calendar_id = cal.calendar_id
    LEFT JOIN closing cl ON l.order_id = cl.order_id
), sla_pauses AS (
    -- From the entitlement, not from `base`: a second reference to `base` would compute it twice.
    SELECT pz.order_id,
           array_agg(named_struct('start', pz.paused_at, 'end', pz.resumed_at) ORDER BY pz.paused_at, pz.resumed_at) AS pauses,
           count(*) AS pause_count
    FROM pauses pz
    LEFT JOIN order_entitlements e ON pz.order_id = e.order_id
    WHERE pz.reason = 'waiting_for_customer' OR coalesce(e.pause_on_parts, false)
    GROUP BY pz.order_id
)
SELECT b.*,
       sp.pauses,
       coalesce(sp.pause_count, 0) AS pause_count,
       CASE WHEN b.cancelled_at IS NOT NULL THEN 'cancelled'
            WHEN b.resolution_stopped_at IS NOT NULL AND b.closed_at >= b.resolution_stopped_at THEN 'closed'
            WHEN b.resolution_stopped_at IS NOT NULL THEN 'completed'
            ELSE 'open' END AS status,
       sla_deadline(b.calendar_json, b.opened_at, b.response_target_minutes, sp.pauses) AS response_deadline,
       sla_deadline(b.calendar_json, b.opened_at, b.resolution_target_minutes, sp.pauses) AS resolution_deadline,
       business_seconds(b.calendar_json, b.opened_at, b.first_arrival_at, sp.pauses) AS response_business_seconds,
       business_seconds(b.calendar_json, b.opened_at, b.resolution_stopped_at, sp.pauses)
           AS resolution_business_seconds,
       business_seconds('{"name":"24x7","tz":"UTC","always_open":true}', b.opened_at, b.resolution_stopped_at,
                        sp.pauses) AS resolution_net_seconds,
       fv.outcome AS first_visit_outcome
FROM base b
LEFT JOIN sla_pauses sp ON b.order_id = sp.order_id
LEFT JOIN visits fv ON b.order_id = fv.order_id AND fv.visit_seq = 1
