-- Credit notes: reduce what is owed on an invoice.
-- entity: key=invoice_id
SELECT json_str(payload, 'credit_note_id') AS credit_note_id, invoice_id, customer_id, amount_cents, currency,
       business_date AS issued_on, json_str(payload, 'reason') AS reason, occurred_at AS issued_at
FROM events WHERE event_type = 'credit_note_issued'
