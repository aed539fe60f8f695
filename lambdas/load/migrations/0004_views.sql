-- Views for analysts.
--
--   sales_order_current     one row per sales order: its latest version (fact_sales_order keeps them all)
--   purchase_order_current  one row per purchase order: its latest version
--   payment_current         one row per payment: its latest version
--   sales_order_wide        sales_order_current joined to staff, counterparty, currency, design,
--                           delivery location and the calendar of its dates; adds total_value
--   purchase_order_wide     purchase_order_current joined likewise; adds total_value
--   payment_wide            payment_current joined to transaction, counterparty, currency, payment type
--                           and the calendar of its payment date
--
-- "Latest" is the greatest (last_updated_date, last_updated_time); the record id breaks a tie.
-- Dimension joins are inner joins: the foreign keys guarantee every referenced row exists.

CREATE VIEW sales_order_current AS
SELECT DISTINCT ON (sales_order_id) *
  FROM fact_sales_order
 ORDER BY sales_order_id, last_updated_date DESC, last_updated_time DESC, sales_record_id DESC;

CREATE VIEW purchase_order_current AS
SELECT DISTINCT ON (purchase_order_id) *
  FROM fact_purchase_order
 ORDER BY purchase_order_id, last_updated_date DESC, last_updated_time DESC, purchase_record_id DESC;

CREATE VIEW payment_current AS
SELECT DISTINCT ON (payment_id) *
  FROM fact_payment
 ORDER BY payment_id, last_updated_date DESC, last_updated_time DESC, payment_record_id DESC;

CREATE VIEW sales_order_wide AS
SELECT s.sales_record_id,
       s.sales_order_id,
       s.created_date,
       s.created_time,
       created.year          AS created_year,
       created.quarter       AS created_quarter,
       created.month         AS created_month,
       created.month_name    AS created_month_name,
       created.day_name      AS created_day_name,
       s.last_updated_date,
       s.last_updated_time,
       s.sales_staff_id,
       st.first_name         AS sales_staff_first_name,
       st.last_name          AS sales_staff_last_name,
       st.email_address      AS sales_staff_email_address,
       st.department_name    AS sales_staff_department_name,
       st.location           AS sales_staff_location,
       s.counterparty_id,
       cp.counterparty_legal_name,
       cp.counterparty_legal_city,
       cp.counterparty_legal_country,
       s.design_id,
       dn.design_name,
       dn.file_location      AS design_file_location,
       dn.file_name          AS design_file_name,
       s.units_sold,
       s.unit_price,
       s.units_sold * s.unit_price AS total_value,
       s.currency_id,
       cu.currency_code,
       cu.currency_name,
       s.agreed_payment_date,
       payment.year          AS agreed_payment_year,
       payment.month         AS agreed_payment_month,
       s.agreed_delivery_date,
       delivery.year         AS agreed_delivery_year,
       delivery.month        AS agreed_delivery_month,
       s.agreed_delivery_location_id,
       lo.address_line_1     AS delivery_address_line_1,
       lo.address_line_2     AS delivery_address_line_2,
       lo.district           AS delivery_district,
       lo.city               AS delivery_city,
       lo.postal_code        AS delivery_postal_code,
       lo.country            AS delivery_country
  FROM sales_order_current s
  JOIN dim_staff st ON st.staff_id = s.sales_staff_id
  JOIN dim_counterparty cp ON cp.counterparty_id = s.counterparty_id
  JOIN dim_design dn ON dn.design_id = s.design_id
  JOIN dim_currency cu ON cu.currency_id = s.currency_id
  JOIN dim_location lo ON lo.location_id = s.agreed_delivery_location_id
  JOIN dim_date created ON created.date_id = s.created_date
  JOIN dim_date payment ON payment.date_id = s.agreed_payment_date
  JOIN dim_date delivery ON delivery.date_id = s.agreed_delivery_date;

CREATE VIEW purchase_order_wide AS
SELECT p.purchase_record_id,
       p.purchase_order_id,
       p.created_date,
       p.created_time,
       created.year          AS created_year,
       created.quarter       AS created_quarter,
       created.month         AS created_month,
       created.month_name    AS created_month_name,
       created.day_name      AS created_day_name,
       p.last_updated_date,
       p.last_updated_time,
       p.staff_id,
       st.first_name         AS staff_first_name,
       st.last_name          AS staff_last_name,
       st.email_address      AS staff_email_address,
       st.department_name    AS staff_department_name,
       st.location           AS staff_location,
       p.counterparty_id,
       cp.counterparty_legal_name,
       cp.counterparty_legal_city,
       cp.counterparty_legal_country,
       p.item_code,
       p.item_quantity,
       p.item_unit_price,
       p.item_quantity * p.item_unit_price AS total_value,
       p.currency_id,
       cu.currency_code,
       cu.currency_name,
       p.agreed_payment_date,
       payment.year          AS agreed_payment_year,
       payment.month         AS agreed_payment_month,
       p.agreed_delivery_date,
       delivery.year         AS agreed_delivery_year,
       delivery.month        AS agreed_delivery_month,
       p.agreed_delivery_location_id,
       lo.address_line_1     AS delivery_address_line_1,
       lo.address_line_2     AS delivery_address_line_2,
       lo.district           AS delivery_district,
       lo.city               AS delivery_city,
       lo.postal_code        AS delivery_postal_code,
       lo.country            AS delivery_country
  FROM purchase_order_current p
  JOIN dim_staff st ON st.staff_id = p.staff_id
  JOIN dim_counterparty cp ON cp.counterparty_id = p.counterparty_id
  JOIN dim_currency cu ON cu.currency_id = p.currency_id
  JOIN dim_location lo ON lo.location_id = p.agreed_delivery_location_id
  JOIN dim_date created ON created.date_id = p.created_date
  JOIN dim_date payment ON payment.date_id = p.agreed_payment_date
  JOIN dim_date delivery ON delivery.date_id = p.agreed_delivery_date;

CREATE VIEW payment_wide AS
SELECT pa.payment_record_id,
       pa.payment_id,
       pa.created_date,
       pa.created_time,
       created.year          AS created_year,
       created.quarter       AS created_quarter,
       created.month         AS created_month,
       created.month_name    AS created_month_name,
       pa.last_updated_date,
       pa.last_updated_time,
       pa.transaction_id,
       tr.transaction_type,
       tr.sales_order_id,
       tr.purchase_order_id,
       pa.counterparty_id,
       cp.counterparty_legal_name,
       cp.counterparty_legal_city,
       cp.counterparty_legal_country,
       pa.payment_amount,
       pa.currency_id,
       cu.currency_code,
       cu.currency_name,
       pa.payment_type_id,
       pt.payment_type_name,
       pa.paid,
       pa.payment_date,
       paid_on.year          AS payment_year,
       paid_on.quarter       AS payment_quarter,
       paid_on.month         AS payment_month,
       paid_on.month_name    AS payment_month_name,
       paid_on.day_name      AS payment_day_name
  FROM payment_current pa
  JOIN dim_transaction tr ON tr.transaction_id = pa.transaction_id
  JOIN dim_counterparty cp ON cp.counterparty_id = pa.counterparty_id
  JOIN dim_currency cu ON cu.currency_id = pa.currency_id
  JOIN dim_payment_type pt ON pt.payment_type_id = pa.payment_type_id
  JOIN dim_date created ON created.date_id = pa.created_date
  JOIN dim_date paid_on ON paid_on.date_id = pa.payment_date;
