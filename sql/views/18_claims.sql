-- Warranty claims with their decision and payment. status: paid | approved |
-- rejected | filed. The latest decision (approved/rejected) wins.
WITH filed AS (
    SELECT claim_id, order_id, agent_id, manufacturer_id, equipment_id,
           minutes AS labour_minutes, amount_cents AS claimed_cents, currency,
           occurred_at AS filed_at,
           json_str(payload, 'arrival_event_id') AS arrival_event_id,
           json_int(payload, 'photos') AS photos
    FROM (
        SELECT *, row_number() OVER (PARTITION BY claim_id ORDER BY occurred_at, event_id) AS rn
        FROM events WHERE event_type = 'claim_filed'
    ) f WHERE rn = 1
), decision AS (
    SELECT claim_id, decision, approved_cents, reject_code, reject_reason, decided_at FROM (
        SELECT claim_id,
               CASE WHEN event_type = 'claim_approved' THEN 'approved' ELSE 'rejected' END AS decision,
               CASE WHEN event_type = 'claim_approved' THEN amount_cents END AS approved_cents,
               CASE WHEN event_type = 'claim_rejected' THEN code END AS reject_code,
               CASE WHEN event_type = 'claim_rejected' THEN json_str(payload, 'reason') END AS reject_reason,
               occurred_at AS decided_at,
               row_number() OVER (PARTITION BY claim_id ORDER BY occurred_at DESC, event_id DESC) AS rn
        FROM events WHERE event_type IN ('claim_approved', 'claim_rejected')
    ) d WHERE rn = 1
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
