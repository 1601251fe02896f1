-- name: fault_pareto
-- title: Pareto of fault codes
-- description: Corrective orders by fault code, most frequent first, with each code's share and the
--   cumulative share.
-- unit: orders and percent
-- grain: one row per fault code (within each group)
-- param: from timestamp = 1970-01-01 | start of the period (inclusive): opening
-- param: to timestamp = 2100-01-01 | end of the period (exclusive)
-- param: model text? | only this model
-- dimensions: product, model, manufacturer, region
-- audience: admin, manager, engineer, partner
-- notes: Ties are ordered by fault code. Cancelled orders count (the fault was reported).
WITH f AS (
    SELECT {{dims}} fault_code, count(*) AS orders FROM order_heads
    WHERE order_type = 'corrective' AND opened_at >= $from AND opened_at < $to
      AND ($model IS NULL OR model = $model)
    GROUP BY {{dim_exprs}} fault_code
)
SELECT f.*,
       round(100.0 * orders / sum(orders) OVER (PARTITION BY {{order_by_dims}} 1), 2) AS share_pct,
       round(100.0 * sum(orders) OVER (PARTITION BY {{order_by_dims}} 1 ORDER BY orders DESC, fault_code
                                       ROWS BETWEEN UNBOUNDED PRECEDING AND CURRENT ROW)
             / sum(orders) OVER (PARTITION BY {{order_by_dims}} 1), 2) AS cumulative_pct
FROM f
ORDER BY {{order_by_dims}} orders DESC, fault_code
