-- name: mtbf
-- title: Mean time between failures (MTBF)
-- description: Operating hours of the installed base in the period ÷ failures in the period, per model.
-- unit: hours
-- grain: one row per group (by default per model)
-- param: from timestamp = 1970-01-01 | start of the period (inclusive)
-- param: to timestamp = 2100-01-01 | end of the period (exclusive)
-- dimensions: product, model, manufacturer, region
-- audience: admin, manager, engineer
-- notes: Operating time = calendar time in service (installed_on .. decommissioned_on, clipped to the period
--   and to the reference instant: a period still running, or the open default period, counts up to now),
--   24 h a day; downtime is not subtracted. A failure = a corrective order opened in the period. No failures:
--   MTBF is NULL (not infinite).
--   Not a partner's KPI: its denominator is the whole installed base, which a service agent may not see
--   (README, "Security: what a partner sees").
WITH units AS (
    SELECT e.equipment_id, e.product_id, p.model, p.manufacturer_id, s.region,
           greatest(0.0, (least(to_unixtime($to), to_unixtime(fh_now()),
                                to_unixtime(coalesce(e.decommissioned_on, CAST($to AS DATE))))
                          - greatest(to_unixtime($from), to_unixtime(e.installed_on))) / 3600.0) AS hours_in_service
    FROM equipment e
    LEFT JOIN products p ON e.product_id = p.product_id
    LEFT JOIN sites s ON e.site_id = s.site_id
), fails AS (
    SELECT equipment_id, count(*) AS failures FROM order_openings
    WHERE order_type = 'corrective' AND opened_at >= $from AND opened_at < $to
    GROUP BY equipment_id
)
SELECT {{dims}}
       count(*) AS units,
       coalesce(sum(f.failures), 0) AS failures,
       round(sum(u.hours_in_service), 2) AS operating_hours,
       round(sum(u.hours_in_service) / nullif(coalesce(sum(f.failures), 0), 0), 2) AS mtbf_hours
FROM units u LEFT JOIN fails f ON u.equipment_id = f.equipment_id
{{group_by}}
{{order_by}}
