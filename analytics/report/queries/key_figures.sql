-- The key figures of the report's table (money per currency is in revenue_by_currency).
SELECT (SELECT count(*) FROM sales_order_current)                              AS sales_orders,
       (SELECT coalesce(sum(units_sold), 0) FROM sales_order_current)          AS units_sold,
       (SELECT count(DISTINCT counterparty_id) FROM sales_order_current)       AS customers,
       (SELECT count(*) FROM purchase_order_current)                           AS purchase_orders,
       (SELECT count(*) FROM (SELECT sales_order_id FROM fact_sales_order
                               GROUP BY 1 HAVING count(*) > 1) AS amended)      AS sales_orders_amended,
       (SELECT count(*) FROM payment_current WHERE NOT paid)                   AS payments_outstanding,
       (SELECT count(*) FROM payment_current
         WHERE NOT paid AND payment_date < current_date)                       AS payments_overdue;
