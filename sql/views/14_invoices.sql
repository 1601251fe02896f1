-- Invoices with issue and due dates and totals (cents). The first invoice_issued event per invoice wins.
-- First by first_value(.. ORDER BY ..) per group (a grouped aggregation), not row_number() = 1: on the large
-- lake the window over 1.07 M one-row partitions took 11.7 s.
-- entity: key=invoice_id
SELECT invoice_id,
       first_value(order_id ORDER BY occurred_at, event_id) AS order_id,
       first_value(contract_id ORDER BY occurred_at, event_id) AS contract_id,
       first_value(customer_id ORDER BY occurred_at, event_id) AS customer_id,
       first_value(code ORDER BY occurred_at, event_id) AS bill_to,
       first_value(CAST(json_str(payload, 'issued_on') AS DATE) ORDER BY occurred_at, event_id) AS issued_on,
       first_value(business_date ORDER BY occurred_at, event_id) AS due_on,
       first_value(amount_cents ORDER BY occurred_at, event_id) AS total_cents,
       first_value(currency ORDER BY occurred_at, event_id) AS currency,
       min(occurred_at) AS issued_at
FROM events WHERE event_type = 'invoice_issued'
GROUP BY invoice_id
