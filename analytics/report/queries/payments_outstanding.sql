-- Payments not yet made (current version, paid = false), per currency and direction: SALE payments are
-- owed to Terrific Totes, PURCHASE payments are owed by it. Overdue: the payment date is before today.
SELECT currency_code,
       transaction_type,
       count(*)                                                      AS payments,
       sum(payment_amount)                                           AS amount,
       count(*) FILTER (WHERE payment_date < current_date)           AS overdue_payments,
       coalesce(sum(payment_amount) FILTER (WHERE payment_date < current_date), 0) AS overdue_amount
  FROM payment_wide
 WHERE NOT paid
 GROUP BY 1, 2
 ORDER BY 1, 2;
