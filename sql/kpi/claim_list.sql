-- name: claim_list
-- title: Warranty claims, one by one
-- description: Every claim filed in the period with its decision, rejection reason and amounts: the lines of
--   a claim settlement statement.
-- unit: claims and cents
-- grain: one row per claim
-- param: from timestamp = 1970-01-01 | start of the period (inclusive): filing time
-- param: to timestamp = 2100-01-01 | end of the period (exclusive)
-- param: agent text? | only this agent (id)
-- param: manufacturer text? | only this manufacturer (id)
-- dimensions:
-- audience: admin, manager, finance, partner
-- notes: The lines of the claim settlement statement (report `claim_settlement_monthly`).
--   rejected_cents = claimed − approved for decided claims (a rejection, or the cut of a partial approval);
--   payable = approved − paid so far. Pending claims show decision `pending`.
SELECT claim_id, order_id, manufacturer_id, filed_at,
       coalesce(decision, 'pending') AS decision,
       reject_code, reject_reason,
       claimed_cents,
       approved_cents,
       CASE WHEN decision IS NULL THEN 0 ELSE claimed_cents - approved_cents END AS rejected_cents,
       paid_cents,
       approved_cents - paid_cents AS payable_cents
FROM claims
WHERE filed_at >= $from AND filed_at < $to
  AND ($agent IS NULL OR agent_id = $agent)
  AND ($manufacturer IS NULL OR manufacturer_id = $manufacturer)
ORDER BY filed_at, claim_id
