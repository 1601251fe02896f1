-- name: csat
-- title: Customer satisfaction (CSAT)
-- description: Mean CSAT (1–5) given at closing, and its distribution.
-- unit: score 1-5
-- grain: one row per group
-- param: from timestamp = 1970-01-01 | start of the period (inclusive): closing
-- param: to timestamp = 2100-01-01 | end of the period (exclusive)
-- param: region text? | only this region
-- dimensions: day, week, month, region, priority, tier, product, model, technician, agent, customer
-- audience: admin, manager, dispatcher, technician, partner
-- notes: The score of the last closing of each order; closings without a score are counted in `unscored`.
SELECT {{dims}}
       count(csat) AS scored,
       count(*) - count(csat) AS unscored,
       round(avg(csat), 2) AS csat_mean,
       count(*) FILTER (WHERE csat = 1) AS score_1,
       count(*) FILTER (WHERE csat = 2) AS score_2,
       count(*) FILTER (WHERE csat = 3) AS score_3,
       count(*) FILTER (WHERE csat = 4) AS score_4,
       count(*) FILTER (WHERE csat = 5) AS score_5
FROM (SELECT *, closed_at AS period_at FROM orders_core WHERE closed_at IS NOT NULL) r
WHERE period_at >= $from AND period_at < $to
  AND ($region IS NULL OR region = $region)
{{group_by}}
{{order_by}}
