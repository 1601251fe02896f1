-- SLA pauses replayed from the history: each `order_paused` lasts until the
-- next pause/resume event of the order (a second pause without a resume in
-- between continues the first); `resumed_at` NULL = still paused.
-- entity: key=order_id
SELECT order_id, paused_at, resumed_at, reason FROM (
    SELECT order_id, event_type,
           occurred_at AS paused_at,
           code AS reason,
           lead(occurred_at) OVER (PARTITION BY order_id ORDER BY occurred_at, event_type, event_id) AS resumed_at
    FROM events
    WHERE event_type IN ('order_paused', 'order_resumed')
) p
WHERE event_type = 'order_paused'
