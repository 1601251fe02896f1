-- Service contracts: tier, calendar, validity, pricing, pause rule. The latest
-- contract_signed event per contract wins.
-- Latest by first_value(.. ORDER BY .. DESC) per group (a grouped aggregation), not row_number() = 1: a
-- window over one-row partitions costs microseconds per partition (see 03_sites.sql).
-- entity: key=contract_id
SELECT c.contract_id, c.customer_id, c.tier, c.calendar_id, c.valid_from, c.valid_to, c.labour_covered,
       c.labour_rate_cents_per_hour, c.parts_discount_pct, c.pause_on_parts, c.sla_json, t.terminated_on
FROM (
    SELECT contract_id,
           first_value(customer_id ORDER BY occurred_at DESC, event_id DESC) AS customer_id,
           first_value(code ORDER BY occurred_at DESC, event_id DESC) AS tier,
           first_value(calendar_id ORDER BY occurred_at DESC, event_id DESC) AS calendar_id,
           first_value(business_date ORDER BY occurred_at DESC, event_id DESC) AS valid_from,
           first_value(CAST(json_str(payload, 'valid_to') AS DATE) ORDER BY occurred_at DESC, event_id DESC)
               AS valid_to,
           first_value(json_bool(payload, 'labour_covered') ORDER BY occurred_at DESC, event_id DESC)
               AS labour_covered,
           first_value(json_int(payload, 'labour_rate_cents_per_hour') ORDER BY occurred_at DESC, event_id DESC)
               AS labour_rate_cents_per_hour,
           first_value(json_int(payload, 'parts_discount_pct') ORDER BY occurred_at DESC, event_id DESC)
               AS parts_discount_pct,
           first_value(json_bool(payload, 'pause_on_parts') ORDER BY occurred_at DESC, event_id DESC)
               AS pause_on_parts,
           first_value(json_str(payload, 'sla') ORDER BY occurred_at DESC, event_id DESC) AS sla_json
    FROM events
    WHERE event_type = 'contract_signed'
    GROUP BY contract_id
) c
LEFT JOIN (
    SELECT contract_id, min(business_date) AS terminated_on
    FROM events WHERE event_type = 'contract_terminated' GROUP BY contract_id
) t ON c.contract_id = t.contract_id
