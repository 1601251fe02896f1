-- Warranty claims with their decision and payment. status: paid | approved |
-- rejected | filed. The latest decision (approved/rejected) wins.
-- The first filing / latest decision per claim: first_value(.. ORDER BY ..) per group, not
-- row_number() = 1 (a sort and a window over every claim; see orders).
-- entity: key=claim_id
WITH filed AS (
    SELECT claim_id,
           first_value(order_id ORDER BY occurred_at, event_id) AS order_id,
           first_value(agent_id ORDER BY occurred_at, event_id) AS agent_id,
           first_value(manufacturer_id ORDER BY occurred_at, event_id) AS manufacturer_id,
           first_value(equipment_id ORDER BY occurred_at, event_id) AS equipment_id,
           first_value(minutes ORDER BY occurred_at, event_id) AS labour_minutes,
           first_value(amount_cents ORDER BY occurred_at, event_id) AS claimed_cents,
           first_value(currency ORDER BY occurred_at, event_id) AS currency,
           min(occurred_at) AS filed_at,
           first_value(json_str(payload, 'arrival_event_id') ORDER BY occurred_at, event_id) AS arrival_event_id,
           first_value(json_int(payload, 'photos') ORDER BY occurred_at, event_id) AS photos
    FROM events WHERE event_type = 'claim_filed'
    GROUP BY claim_id
), decision AS (
    SELECT claim_id,
           first_value(CASE WHEN event_type = 'claim_approved' THEN 'approved' ELSE 'rejected' END
                       ORDER BY occurred_at DESC, event_id DESC) AS decision,
           first_value(CASE WHEN event_type = 'claim_approved' THEN amount_cents END
                       ORDER BY occurred_at DESC, event_id DESC) AS approved_cents,
           first_value(CASE WHEN event_type = 'claim_rejected' THEN code END
                       ORDER BY occurred_at DESC, event_id DESC) AS reject_code,
           first_value(CASE WHEN event_type = 'claim_rejected' THEN json_str(payload, 'reason') END
                       ORDER BY occurred_at DESC, event_id DESC) AS reject_reason,
           max(occurred_at) AS decided_at
    FROM events WHERE event_type IN ('claim_approved', 'claim_rejected')
    GROUP BY claim_id
), paid AS (
    SELECT claim_id, sum(amount_cents) AS paid_cents, max(occurred_at) AS paid_at
    FROM events WHERE event_type = 'claim_paid' GROUP BY claim_id
)
SELECT f.*, d.decision, coalesce(d.approved_cents, 0) AS approved_cents, d.reject_code, d.reject_reason,
       d.decided_at, coalesce(p.paid_cents, 0) AS paid_cents, p.paid_at,
       CASE WHEN p.paid_cents IS NOT NULL THEN 'paid' WHEN d.decision IS NOT NULL THEN d.decision ELSE 'filed' END
           AS status
FROM filed f
LEFT JOIN decision d ON f.claim_id = d.claim_id
LEFT JOIN paid p ON f.claim_id = p.claim_id
