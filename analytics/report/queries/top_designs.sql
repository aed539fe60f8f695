-- The ten designs with the most units sold (current orders); a design's revenue is per currency elsewhere,
-- so designs are ranked by units, which add up across currencies. Ties: the lower design id first.
SELECT design_id,
       design_name,
       count(*)        AS orders,
       sum(units_sold) AS units_sold
  FROM sales_order_wide
 GROUP BY 1, 2
 ORDER BY units_sold DESC, design_id
 LIMIT 10;
