-- How often orders are amended: the versions each order has in the fact history (1 = never amended
-- since the warehouse first saw it), and how many orders have that many.
SELECT order_kind, versions, count(*) AS orders
  FROM (SELECT 'sales order' AS order_kind, sales_order_id, count(*) AS versions
          FROM fact_sales_order GROUP BY sales_order_id
        UNION ALL
        SELECT 'purchase order', purchase_order_id, count(*)
          FROM fact_purchase_order GROUP BY purchase_order_id) AS per_order
 GROUP BY 1, 2
 ORDER BY 1 DESC, 2;
