-- The time range the warehouse covers and how fresh it is: order creation dates, the newest change
-- (last_updated, UTC) of any fact, and the newest load.
SELECT (SELECT min(created_date) FROM fact_sales_order)                        AS first_order_date,
       (SELECT max(created_date) FROM fact_sales_order)                        AS last_order_date,
       (SELECT max(last_updated_date + last_updated_time)
          FROM (SELECT last_updated_date, last_updated_time FROM fact_sales_order
                UNION ALL SELECT last_updated_date, last_updated_time FROM fact_purchase_order
                UNION ALL SELECT last_updated_date, last_updated_time FROM fact_payment) AS f) AS newest_change,
       (SELECT max(loaded_at) FROM onyx_run)                                   AS last_load,
       (SELECT count(*) FROM onyx_run)                                         AS runs;
