-- name: claim_settlement
-- title: Warranty claim settlement
-- description: Per agent and manufacturer: claims filed, approved, rejected (with the reasons), pending;
--   amounts claimed, approved, paid and payable; claim cycle time (filed → decision).
-- unit: claims and cents
-- grain: one row per agent and manufacturer over the period
-- param: from timestamp = 1970-01-01 | start of the period (inclusive): filing time
-- param: to timestamp = 2100-01-01 | end of the period (exclusive)
-- param: agent text? | only this agent (id)
-- param: manufacturer text? | only this manufacturer (id)
-- dimensions:
-- audience: admin, manager, finance, partner
-- notes: A claim belongs to the period of its filing. Payable = approved − paid so far. A partially approved
--   claim counts as approved, its cut in `cut_cents` (claimed − approved). rejected_reasons lists
--   `code×count`, most frequent first.
WITH c AS (
    SELECT *, filed_at AS period_at FROM claims
    WHERE filed_at >= $from AND filed_at < $to
      AND ($agent IS NULL OR agent_id = $agent)
      AND ($manufacturer IS NULL OR manufacturer_id = $manufacturer)
), reasons AS (
    SELECT agent_id, manufacturer_id,
           string_agg(reject_code || '×' || CAST(n AS VARCHAR), ', ' ORDER BY n DESC, reject_code) AS rejected_reasons
    FROM (SELECT agent_id, manufacturer_id, reject_code, count(*) AS n FROM c
          WHERE decision = 'rejected' GROUP BY agent_id, manufacturer_id, reject_code) x
    GROUP BY agent_id, manufacturer_id
), agg AS (
    SELECT agent_id, manufacturer_id,
           count(*) AS filed,
           count(*) FILTER (WHERE decision = 'approved') AS approved,
           count(*) FILTER (WHERE decision = 'approved' AND approved_cents < claimed_cents) AS partially_approved,
           count(*) FILTER (WHERE decision = 'rejected') AS rejected,
           count(*) FILTER (WHERE decision IS NULL) AS pending,
           sum(claimed_cents) AS claimed_cents,
           sum(approved_cents) AS approved_cents,
           sum(CASE WHEN decision = 'approved' THEN claimed_cents - approved_cents ELSE 0 END) AS cut_cents,
           sum(paid_cents) AS paid_cents,
           sum(approved_cents) - sum(paid_cents) AS payable_cents,
           round(avg((to_unixtime(decided_at) - to_unixtime(filed_at)) / 86400.0), 2) AS mean_days_to_decision
    FROM c
    GROUP BY agent_id, manufacturer_id
)
SELECT a.*, r.rejected_reasons
FROM agg a LEFT JOIN reasons r
  ON a.agent_id = r.agent_id AND a.manufacturer_id = r.manufacturer_id
ORDER BY a.agent_id, a.manufacturer_id
