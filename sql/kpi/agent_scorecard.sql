-- name: agent_scorecard
-- title: Service agent scorecard
-- description: Per service agent: orders opened, completed, response and resolution SLA compliance, mean CSAT,
--   warranty claims filed, approved, rejected, and amounts claimed, approved and paid.
-- unit: mixed
-- grain: one row per agent
-- param: from timestamp = 1970-01-01 | start of the period (inclusive)
-- param: to timestamp = 2100-01-01 | end of the period (exclusive)
-- dimensions:
-- audience: admin, manager, finance, partner
-- notes: An order belongs to the agent of its current (last assigned) technician. Opened by opening time,
--   completed by final completion, SLA by the clock's end (as in the compliance KPIs), CSAT by closing, claims
--   by filing.
WITH ord AS (
    SELECT agent_id,
           count(*) FILTER (WHERE opened_at >= $from AND opened_at < $to) AS opened,
           count(*) FILTER (WHERE status <> 'cancelled' AND resolution_stopped_at >= $from
                            AND resolution_stopped_at < $to) AS completed,
           count(*) FILTER (WHERE status <> 'cancelled' AND response_state = 'met'
                            AND coalesce(first_arrival_at, response_deadline) >= $from
                            AND coalesce(first_arrival_at, response_deadline) < $to) AS response_met,
           count(*) FILTER (WHERE status <> 'cancelled' AND response_state = 'breached'
                            AND coalesce(first_arrival_at, response_deadline) >= $from
                            AND coalesce(first_arrival_at, response_deadline) < $to) AS response_breached,
           count(*) FILTER (WHERE status <> 'cancelled' AND resolution_state = 'met'
                            AND coalesce(resolution_stopped_at, resolution_deadline) >= $from
                            AND coalesce(resolution_stopped_at, resolution_deadline) < $to) AS resolution_met,
           count(*) FILTER (WHERE status <> 'cancelled' AND resolution_state = 'breached'
                            AND coalesce(resolution_stopped_at, resolution_deadline) >= $from
                            AND coalesce(resolution_stopped_at, resolution_deadline) < $to) AS resolution_breached,
           avg(csat) FILTER (WHERE closed_at >= $from AND closed_at < $to) AS csat_mean
    FROM orders WHERE agent_id IS NOT NULL GROUP BY agent_id
), cl AS (
    SELECT agent_id, count(*) AS claims_filed,
           count(*) FILTER (WHERE decision = 'approved') AS claims_approved,
           count(*) FILTER (WHERE decision = 'rejected') AS claims_rejected,
           sum(claimed_cents) AS claimed_cents, sum(approved_cents) AS approved_cents, sum(paid_cents) AS paid_cents
    FROM claims WHERE filed_at >= $from AND filed_at < $to GROUP BY agent_id
)
SELECT a.agent_id, a.name,
       coalesce(o.opened, 0) AS opened,
       coalesce(o.completed, 0) AS completed,
       round(100.0 * o.response_met / nullif(o.response_met + o.response_breached, 0), 2) AS response_compliance_pct,
       round(100.0 * o.resolution_met / nullif(o.resolution_met + o.resolution_breached, 0), 2)
           AS resolution_compliance_pct,
       round(o.csat_mean, 2) AS csat_mean,
       coalesce(c.claims_filed, 0) AS claims_filed,
       coalesce(c.claims_approved, 0) AS claims_approved,
       coalesce(c.claims_rejected, 0) AS claims_rejected,
       coalesce(c.claimed_cents, 0) AS claimed_cents,
       coalesce(c.approved_cents, 0) AS approved_cents,
       coalesce(c.paid_cents, 0) AS paid_cents
FROM agents a
LEFT JOIN ord o ON a.agent_id = o.agent_id
LEFT JOIN cl c ON a.agent_id = c.agent_id
ORDER BY a.agent_id
