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
    FROM claims cl LEFT JOIN orders o ON cl.order_id = o.order_id
), first_arrival AS (
    SELECT order_id, arrival_lat, arrival_lon FROM (
        SELECT order_id, arrival_lat, arrival_lon,
               row_number() OVER (PARTITION BY order_id ORDER BY arrived_at, visit_id) AS rn
        FROM visits WHERE arrived_at IS NOT NULL
    ) x WHERE rn = 1
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
    SELECT *, 'no_arrival' AS rule, 'no arrival event for the order' AS detail FROM checked WHERE arrived_order IS NULL
    UNION ALL
    SELECT *, 'far_from_site', 'first check-in ' || CAST(round(km_from_site, 1) AS VARCHAR) || ' km from the site'
    FROM checked WHERE km_from_site > $max_km
    UNION ALL
    SELECT *, 'labour_above_standard',
           CAST(labour_minutes AS VARCHAR) || ' min claimed, standard ' || CAST(standard_repair_minutes AS VARCHAR)
    FROM checked WHERE labour_minutes > standard_repair_minutes * $labour_factor
    UNION ALL
    SELECT *, 'duplicate', 'claim number ' || CAST(claim_seq AS VARCHAR) || ' for this order'
    FROM checked WHERE claim_seq > 1
)
SELECT claim_id, order_id, agent_id, manufacturer_id, filed_at, claimed_cents, status, rule, detail
FROM rules
ORDER BY filed_at, claim_id, rule
