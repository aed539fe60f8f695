-- Purchases against sales by month (of order creation) and currency: the value of current orders.
SELECT month,
       currency_code,
       sum(sales)     AS sales_value,
       sum(purchases) AS purchase_value
  FROM (SELECT make_date(created_year, created_month, 1) AS month, currency_code,
               total_value AS sales, 0 AS purchases
          FROM sales_order_wide
        UNION ALL
        SELECT make_date(created_year, created_month, 1), currency_code,
               0, total_value
          FROM purchase_order_wide) AS orders
 GROUP BY 1, 2
 ORDER BY 1, 2;
