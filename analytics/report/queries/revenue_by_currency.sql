-- Revenue per currency over the whole time range: the current version of every sales order.
SELECT currency_code,
       currency_name,
       count(*)         AS orders,
       sum(units_sold)  AS units_sold,
       sum(total_value) AS revenue
  FROM sales_order_wide
 GROUP BY 1, 2
 ORDER BY 1;
