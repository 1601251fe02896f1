-- name: suspect_claims
-- title: Suspect warranty claims
-- description: The list of claims that break a plausibility rule, one row per claim and rule: no arrival event
--   for the order, check-in far from the site, labour above the standard time, duplicate claim for the order.
-- unit: claims (a list)
-- grain: one row per claim and rule broken
-- param: from timestamp = 1970-01-01 | start of the period (inclusive): filing time
-- param: to timestamp = 2100-01-01 | end of the period (exclusive)
-- param: max_km float = 1.0 | a first check-in farther than this from the site is suspect
-- param: labour_factor float = 1.5 | labour above standard repair minutes × this factor is suspect
-- param: agent text? | only this agent (id)
-- dimensions:
-- audience: admin, manager, finance, partner
-- notes: Rules: `no_arrival` = no arrived event on the claim's order; `far_from_site` = the first arrival of the
--   order is more than max_km (great-circle, R = 6371 km) from the site; `labour_above_standard` = claimed labour
--   minutes > the product's standard repair minutes × labour_factor; `duplicate` = another claim for the same
--   order was filed earlier (the first claim is not marked).
WITH c AS (
    SELECT cl.*, o.site_id, o.product_id,
           row_number() OVER (PARTITION BY cl.order_id ORDER BY cl.filed_at, cl.claim_id) AS claim_seq
    FROM claims cl LEFT JOIN order_openings o ON cl.order_id = o.order_id
), first_arrival AS (
    SELECT order_id,
           first_value(arrival_lat ORDER BY arrived_at, visit_id) AS arrival_lat,
           first_value(arrival_lon ORDER BY arrived_at, visit_id) AS arrival_lon
    FROM visits WHERE arrived_at IS NOT NULL
    GROUP BY order_id
), checked AS (
    SELECT c.claim_id, c.order_id, c.agent_id, c.manufacturer_id, c.filed_at, c.labour_minutes, c.claimed_cents,
           c.status, c.claim_seq, fa.order_id AS arrived_order,
           2 * 6371 * asin(sqrt(power(sin(radians(fa.arrival_lat - s.lat) / 2), 2)
               + cos(radians(s.lat)) * cos(radians(fa.arrival_lat)) * power(sin(radians(fa.arrival_lon - s.lon) / 2), 2)))
               AS km_from_site,
           p.standard_repair_minutes
    FROM c
    LEFT JOIN first_arrival fa ON c.order_id = fa.order_id
    LEFT JOIN sites s ON c.site_id = s.site_id
    LEFT JOIN products p ON c.product_id = p.product_id
    WHERE c.filed_at >= $from AND c.filed_at < $to
      AND ($agent IS NULL OR c.agent_id = $agent)
), rules AS (
    -- Each rule is a row of a four-row list joined to `checked`, not a UNION ALL of four SELECTs over it
    -- (DataFusion inlines a CTE at every reference: the union computed `checked` and its joins four times).
    SELECT ch.*, r.rule,
           CASE r.rule
               WHEN 'no_arrival' THEN 'no arrival event for the order'
               WHEN 'far_from_site' THEN 'first check-in ' || CAST(round(ch.km_from_site, 1) AS VARCHAR) || ' km from the site'
               WHEN 'labour_above_standard' THEN CAST(ch.labour_minutes AS VARCHAR) || ' min claimed, standard '
                   || CAST(ch.standard_repair_minutes AS VARCHAR)
               ELSE 'claim number ' || CAST(ch.claim_seq AS VARCHAR) || ' for this order'
           END AS detail
    FROM checked ch
    JOIN (VALUES ('no_arrival'), ('far_from_site'), ('labour_above_standard'), ('duplicate')) AS r(rule)
      ON (r.rule = 'no_arrival' AND ch.arrived_order IS NULL)
      OR (r.rule = 'far_from_site' AND ch.km_from_site > $max_km)
      OR (r.rule = 'labour_above_standard' AND ch.labour_minutes > ch.standard_repair_minutes * $labour_factor)
      OR (r.rule = 'duplicate' AND ch.claim_seq > 1)
)
SELECT claim_id, order_id, agent_id, manufacturer_id, filed_at, claimed_cents, status, rule, detail
FROM rules
ORDER BY filed_at, claim_id, rule
