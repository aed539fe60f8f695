-- Facts: the full history. Each version of a source row (each distinct last_updated) is one row,
-- and the unique key on (natural id, last_updated_date, last_updated_time) keeps a version from
-- being inserted twice. Every date refers to dim_date, every id to its dimension.

CREATE TABLE fact_sales_order (
    sales_record_id             serial PRIMARY KEY,
    sales_order_id              integer NOT NULL,
    created_date                date NOT NULL REFERENCES dim_date (date_id),
    created_time                time(3) NOT NULL,
    last_updated_date           date NOT NULL REFERENCES dim_date (date_id),
    last_updated_time           time(3) NOT NULL,
    sales_staff_id              integer NOT NULL REFERENCES dim_staff (staff_id),
    counterparty_id             integer NOT NULL REFERENCES dim_counterparty (counterparty_id),
    units_sold                  integer NOT NULL,
    unit_price                  numeric(10, 2) NOT NULL,
    currency_id                 integer NOT NULL REFERENCES dim_currency (currency_id),
    design_id                   integer NOT NULL REFERENCES dim_design (design_id),
    agreed_payment_date         date NOT NULL REFERENCES dim_date (date_id),
    agreed_delivery_date        date NOT NULL REFERENCES dim_date (date_id),
    agreed_delivery_location_id integer NOT NULL REFERENCES dim_location (location_id),
    CONSTRAINT fact_sales_order_version_key UNIQUE (sales_order_id, last_updated_date, last_updated_time)
);

CREATE TABLE fact_purchase_order (
    purchase_record_id          serial PRIMARY KEY,
    purchase_order_id           integer NOT NULL,
    created_date                date NOT NULL REFERENCES dim_date (date_id),
    created_time                time(3) NOT NULL,
    last_updated_date           date NOT NULL REFERENCES dim_date (date_id),
    last_updated_time           time(3) NOT NULL,
    staff_id                    integer NOT NULL REFERENCES dim_staff (staff_id),
    counterparty_id             integer NOT NULL REFERENCES dim_counterparty (counterparty_id),
    item_code                   text NOT NULL,
    item_quantity               integer NOT NULL,
    item_unit_price             numeric(10, 2) NOT NULL,
    currency_id                 integer NOT NULL REFERENCES dim_currency (currency_id),
    agreed_delivery_date        date NOT NULL REFERENCES dim_date (date_id),
    agreed_payment_date         date NOT NULL REFERENCES dim_date (date_id),
    agreed_delivery_location_id integer NOT NULL REFERENCES dim_location (location_id),
    CONSTRAINT fact_purchase_order_version_key UNIQUE (purchase_order_id, last_updated_date, last_updated_time)
);

CREATE TABLE fact_payment (
    payment_record_id serial PRIMARY KEY,
    payment_id        integer NOT NULL,
    created_date      date NOT NULL REFERENCES dim_date (date_id),
    created_time      time(3) NOT NULL,
    last_updated_date date NOT NULL REFERENCES dim_date (date_id),
    last_updated_time time(3) NOT NULL,
    transaction_id    integer NOT NULL REFERENCES dim_transaction (transaction_id),
    counterparty_id   integer NOT NULL REFERENCES dim_counterparty (counterparty_id),
    payment_amount    numeric(10, 2) NOT NULL,
    currency_id       integer NOT NULL REFERENCES dim_currency (currency_id),
    payment_type_id   integer NOT NULL REFERENCES dim_payment_type (payment_type_id),
    paid              boolean NOT NULL,
    payment_date      date NOT NULL REFERENCES dim_date (date_id),
    CONSTRAINT fact_payment_version_key UNIQUE (payment_id, last_updated_date, last_updated_time)
);
