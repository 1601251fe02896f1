-- The date each invoice was fully paid, one row per settled invoice (an invoice not yet covered has
-- none): the first date by which the payments and credit notes dated up to it cover the invoice's total
-- (amounts summed per date, so the amounts of one date count together). Kept as an entity table so that
-- billing_cycle_time reads a date per invoice instead of recomputing every invoice's running sums.
-- entity: key=invoice_id follows=invoices.invoice_id,payments.invoice_id,credit_notes.invoice_id
WITH moves AS (
    SELECT invoice_id, received_on AS on_date, amount_cents FROM payments
    UNION ALL
    SELECT invoice_id, issued_on AS on_date, amount_cents FROM credit_notes
), daily AS (
    SELECT invoice_id, on_date, sum(amount_cents) AS amount_cents FROM moves GROUP BY invoice_id, on_date
), covered AS (
    -- per invoice and date with money in: everything in up to that date
    SELECT d.invoice_id, d.on_date, sum(e.amount_cents) AS cum
    FROM daily d JOIN moves e ON e.invoice_id = d.invoice_id AND e.on_date <= d.on_date
    GROUP BY d.invoice_id, d.on_date
)
SELECT c.invoice_id, min(c.on_date) AS settled_on
FROM covered c JOIN invoices i ON i.invoice_id = c.invoice_id
WHERE c.cum >= i.total_cents
GROUP BY c.invoice_id
