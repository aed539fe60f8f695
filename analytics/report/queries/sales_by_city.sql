-- Sales by the counterparty's (legal address) city and country: orders and units sold, current orders.
SELECT counterparty_legal_city    AS city,
       counterparty_legal_country AS country,
       count(*)                   AS orders,
       sum(units_sold)            AS units_sold
  FROM sales_order_wide
 GROUP BY 1, 2
 ORDER BY units_sold DESC, city, country;
