-- Dimensions: the current state of each Totesys entity, one row per key (upserted by the load).
-- Applied with search_path set to the warehouse schema, so names are unqualified on purpose.

CREATE TABLE dim_date (
    date_id     date PRIMARY KEY,
    year        smallint NOT NULL,
    month       smallint NOT NULL,
    day         smallint NOT NULL,
    day_of_week smallint NOT NULL,  -- ISO: Monday = 1
    day_name    text NOT NULL,
    month_name  text NOT NULL,
    quarter     smallint NOT NULL
);

CREATE TABLE dim_staff (
    staff_id        integer PRIMARY KEY,
    first_name      text NOT NULL,
    last_name       text NOT NULL,
    department_name text NOT NULL,
    location        text,
    email_address   text NOT NULL
);

CREATE TABLE dim_location (
    location_id    integer PRIMARY KEY,
    address_line_1 text NOT NULL,
    address_line_2 text,
    district       text,
    city           text NOT NULL,
    postal_code    text NOT NULL,
    country        text NOT NULL,
    phone          text NOT NULL
);

CREATE TABLE dim_design (
    design_id     integer PRIMARY KEY,
    design_name   text NOT NULL,
    file_location text NOT NULL,
    file_name     text NOT NULL
);

CREATE TABLE dim_currency (
    currency_id   integer PRIMARY KEY,
    currency_code text NOT NULL,
    currency_name text NOT NULL
);

CREATE TABLE dim_counterparty (
    counterparty_id                   integer PRIMARY KEY,
    counterparty_legal_name           text NOT NULL,
    counterparty_legal_address_line_1 text NOT NULL,
    counterparty_legal_address_line_2 text,
    counterparty_legal_district       text,
    counterparty_legal_city           text NOT NULL,
    counterparty_legal_postal_code    text NOT NULL,
    counterparty_legal_country        text NOT NULL,
    counterparty_legal_phone_number   text NOT NULL
);

CREATE TABLE dim_payment_type (
    payment_type_id   integer PRIMARY KEY,
    payment_type_name text NOT NULL
);

CREATE TABLE dim_transaction (
    transaction_id    integer PRIMARY KEY,
    transaction_type  text NOT NULL,
    sales_order_id    integer,
    purchase_order_id integer
);
