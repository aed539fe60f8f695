-- Revenue by month and currency: the current version of every sales order, by the month it was created.
-- Money stays in the order's own currency (Totesys holds no exchange rates); units_sold is in items.
SELECT make_date(created_year, created_month, 1) AS month,
       currency_code,
       count(*)                                  AS orders,
       sum(units_sold)                           AS units_sold,
       sum(total_value)                          AS revenue
  FROM sales_order_wide
 GROUP BY 1, 2
 ORDER BY 1, 2;
