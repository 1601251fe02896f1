-- Payments (possibly partial) against invoices.
-- entity: key=invoice_id
SELECT json_str(payload, 'payment_id') AS payment_id, invoice_id, customer_id, amount_cents, currency,
       business_date AS received_on, occurred_at AS received_at
FROM events WHERE event_type = 'payment_received'
