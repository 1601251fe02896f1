-- Service contracts: tier, calendar, validity, pricing, pause rule.
SELECT c.contract_id, c.customer_id, c.tier, c.calendar_id, c.valid_from, c.valid_to, c.labour_covered,
       c.labour_rate_cents_per_hour, c.parts_discount_pct, c.pause_on_parts, c.sla_json, t.terminated_on
FROM (
    SELECT contract_id, customer_id,
           code AS tier,
           calendar_id,
           business_date AS valid_from,
           CAST(json_str(payload, 'valid_to') AS DATE) AS valid_to,
           json_bool(payload, 'labour_covered') AS labour_covered,
           json_int(payload, 'labour_rate_cents_per_hour') AS labour_rate_cents_per_hour,
           json_int(payload, 'parts_discount_pct') AS parts_discount_pct,
           json_bool(payload, 'pause_on_parts') AS pause_on_parts,
           json_str(payload, 'sla') AS sla_json,
           row_number() OVER (PARTITION BY contract_id ORDER BY occurred_at DESC, event_id DESC) AS rn
    FROM events
    WHERE event_type = 'contract_signed'
) c
LEFT JOIN (
    SELECT contract_id, min(business_date) AS terminated_on
    FROM events WHERE event_type = 'contract_terminated' GROUP BY contract_id
) t ON c.contract_id = t.contract_id
WHERE c.rn = 1
