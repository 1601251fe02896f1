-- name: failure_rate
-- title: Failure rate per 1,000 installed units per month
-- description: Failures (corrective orders opened) ÷ unit-months in service of the installed base in the
--   period × 1,000.
-- unit: failures per 1,000 unit-months
-- grain: one row per group
-- param: from timestamp = 1970-01-01 | start of the period (inclusive)
-- param: to timestamp = 2100-01-01 | end of the period (exclusive)
-- dimensions: product, model, manufacturer, region
-- audience: admin, manager, engineer
-- notes: A failure = a corrective order opened in the period (cancelled ones too: the fault was reported).
--   Unit-months = each unit's days in service inside the period (installed_on .. decommissioned_on, and not
--   after the reference instant: the future is not time in service) ÷ 30.4375.
--   Groups are by the unit's product/model/manufacturer and its site's region.
--   Not a partner's KPI: its denominator is the whole installed base, which a service agent may not see
--   (README, "Security: what a partner sees").
WITH units AS (
    SELECT e.equipment_id, e.product_id, p.model, p.manufacturer_id, s.region,
           greatest(0.0, (least(to_unixtime($to), to_unixtime(fh_now()),
                                to_unixtime(coalesce(e.decommissioned_on, CAST($to AS DATE))))
                          - greatest(to_unixtime($from), to_unixtime(e.installed_on))) / 86400.0) AS days_in_service
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
       round(sum(u.days_in_service) / 30.4375, 4) AS unit_months,
       round(1000.0 * coalesce(sum(f.failures), 0) / nullif(sum(u.days_in_service) / 30.4375, 0), 2)
           AS failures_per_1000_unit_months
FROM units u LEFT JOIN fails f ON u.equipment_id = f.equipment_id
{{group_by}}
{{order_by}}
