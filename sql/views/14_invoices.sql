-- Invoices with issue and due dates and totals (cents).
SELECT invoice_id, order_id, contract_id, customer_id, bill_to, issued_on, due_on, total_cents, currency, issued_at
FROM (
    SELECT invoice_id, order_id, contract_id, customer_id,
           code AS bill_to,
           CAST(json_str(payload, 'issued_on') AS DATE) AS issued_on,
           business_date AS due_on,
           amount_cents AS total_cents,
           currency,
           occurred_at AS issued_at,
           row_number() OVER (PARTITION BY invoice_id ORDER BY occurred_at, event_id) AS rn
    FROM events WHERE event_type = 'invoice_issued'
) i
WHERE rn = 1
