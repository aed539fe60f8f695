-- Sales by department of the sales staff: staff who sold, orders and units sold, current orders.
SELECT sales_staff_department_name    AS department_name,
       count(DISTINCT sales_staff_id) AS staff,
       count(*)                       AS orders,
       sum(units_sold)                AS units_sold
  FROM sales_order_wide
 GROUP BY 1
 ORDER BY units_sold DESC, department_name;
