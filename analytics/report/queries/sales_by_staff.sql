-- Sales by staff member (the order's sales staff, with their current department): orders and units sold.
SELECT sales_staff_id                                             AS staff_id,
       sales_staff_first_name || ' ' || sales_staff_last_name     AS staff_name,
       sales_staff_department_name                                AS department_name,
       count(*)                                                   AS orders,
       sum(units_sold)                                            AS units_sold
  FROM sales_order_wide
 GROUP BY 1, 2, 3
 ORDER BY units_sold DESC, staff_id;
