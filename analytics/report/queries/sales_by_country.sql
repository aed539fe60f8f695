-- Sales by the counterparty's (legal address) country: orders and units sold, current orders.
SELECT counterparty_legal_country AS country,
       count(*)                   AS orders,
       sum(units_sold)            AS units_sold
  FROM sales_order_wide
 GROUP BY 1
 ORDER BY units_sold DESC, country;
