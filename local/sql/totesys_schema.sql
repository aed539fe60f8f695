-- The Totesys OLTP schema, as the real database has it (11 tables). Idempotent.
-- Timestamps are timestamp(3) without time zone (UTC); money is numeric(10,2); the agreed and payment
-- dates are strings (YYYY-MM-DD), not dates; "transaction" is a reserved word and always quoted.

DO $$ BEGIN
    CREATE TYPE payment_type_name AS ENUM ('SALES_RECEIPT', 'SALES_REFUND', 'PURCHASE_PAYMENT', 'PURCHASE_REFUND');
EXCEPTION WHEN duplicate_object THEN NULL; END $$;

DO $$ BEGIN
    CREATE TYPE transaction_type AS ENUM ('SALE', 'PURCHASE');
EXCEPTION WHEN duplicate_object THEN NULL; END $$;

CREATE TABLE IF NOT EXISTS address (
    address_id     serial PRIMARY KEY,
    address_line_1 varchar NOT NULL,
    address_line_2 varchar,
    district       varchar,
    city           varchar NOT NULL,
    postal_code    varchar NOT NULL,
    country        varchar NOT NULL,
    phone          varchar NOT NULL,
    created_at     timestamp(3) NOT NULL DEFAULT (now() AT TIME ZONE 'UTC'),
    last_updated   timestamp(3) NOT NULL DEFAULT (now() AT TIME ZONE 'UTC')
);

CREATE TABLE IF NOT EXISTS currency (
    currency_id   serial PRIMARY KEY,
    currency_code varchar(3) NOT NULL,
    created_at    timestamp(3) NOT NULL DEFAULT (now() AT TIME ZONE 'UTC'),
    last_updated  timestamp(3) NOT NULL DEFAULT (now() AT TIME ZONE 'UTC')
);

CREATE TABLE IF NOT EXISTS department (
    department_id   serial PRIMARY KEY,
    department_name varchar NOT NULL,
    location        varchar,
    manager         varchar,
    created_at      timestamp(3) NOT NULL DEFAULT (now() AT TIME ZONE 'UTC'),
    last_updated    timestamp(3) NOT NULL DEFAULT (now() AT TIME ZONE 'UTC')
);

CREATE TABLE IF NOT EXISTS design (
    design_id     serial PRIMARY KEY,
    created_at    timestamp(3) NOT NULL DEFAULT (now() AT TIME ZONE 'UTC'),
    design_name   varchar NOT NULL,
    file_location varchar NOT NULL,
    file_name     varchar NOT NULL,
    last_updated  timestamp(3) NOT NULL DEFAULT (now() AT TIME ZONE 'UTC')
);

CREATE TABLE IF NOT EXISTS payment_type (
    payment_type_id   serial PRIMARY KEY,
    payment_type_name payment_type_name NOT NULL,
    created_at        timestamp(3) NOT NULL DEFAULT (now() AT TIME ZONE 'UTC'),
    last_updated      timestamp(3) NOT NULL DEFAULT (now() AT TIME ZONE 'UTC')
);

CREATE TABLE IF NOT EXISTS counterparty (
    counterparty_id         serial PRIMARY KEY,
    counterparty_legal_name varchar NOT NULL,
    legal_address_id        integer NOT NULL REFERENCES address (address_id),
    commercial_contact      varchar,
    delivery_contact        varchar,
    created_at              timestamp(3) NOT NULL DEFAULT (now() AT TIME ZONE 'UTC'),
    last_updated            timestamp(3) NOT NULL DEFAULT (now() AT TIME ZONE 'UTC')
);

CREATE TABLE IF NOT EXISTS staff (
    staff_id      serial PRIMARY KEY,
    first_name    varchar NOT NULL,
    last_name     varchar NOT NULL,
    department_id integer NOT NULL REFERENCES department (department_id),
    email_address varchar NOT NULL,
    created_at    timestamp(3) NOT NULL DEFAULT (now() AT TIME ZONE 'UTC'),
    last_updated  timestamp(3) NOT NULL DEFAULT (now() AT TIME ZONE 'UTC')
);

CREATE TABLE IF NOT EXISTS sales_order (
    sales_order_id              serial PRIMARY KEY,
    created_at                  timestamp(3) NOT NULL DEFAULT (now() AT TIME ZONE 'UTC'),
    last_updated                timestamp(3) NOT NULL DEFAULT (now() AT TIME ZONE 'UTC'),
    design_id                   integer NOT NULL REFERENCES design (design_id),
    staff_id                    integer NOT NULL REFERENCES staff (staff_id),
    counterparty_id             integer NOT NULL REFERENCES counterparty (counterparty_id),
    units_sold                  integer NOT NULL,
    unit_price                  numeric(10, 2) NOT NULL,
    currency_id                 integer NOT NULL REFERENCES currency (currency_id),
    agreed_delivery_date        varchar NOT NULL,
    agreed_payment_date         varchar NOT NULL,
    agreed_delivery_location_id integer NOT NULL REFERENCES address (address_id)
);

CREATE TABLE IF NOT EXISTS purchase_order (
    purchase_order_id           serial PRIMARY KEY,
    created_at                  timestamp(3) NOT NULL DEFAULT (now() AT TIME ZONE 'UTC'),
    last_updated                timestamp(3) NOT NULL DEFAULT (now() AT TIME ZONE 'UTC'),
    staff_id                    integer NOT NULL REFERENCES staff (staff_id),
    counterparty_id             integer NOT NULL REFERENCES counterparty (counterparty_id),
    item_code                   varchar NOT NULL,
    item_quantity               integer NOT NULL,
    item_unit_price             numeric(10, 2) NOT NULL,
    currency_id                 integer NOT NULL REFERENCES currency (currency_id),
    agreed_delivery_date        varchar NOT NULL,
    agreed_payment_date         varchar NOT NULL,
    agreed_delivery_location_id integer NOT NULL REFERENCES address (address_id)
);

CREATE TABLE IF NOT EXISTS "transaction" (
    transaction_id    serial PRIMARY KEY,
    transaction_type  transaction_type NOT NULL,
    sales_order_id    integer REFERENCES sales_order (sales_order_id),
    purchase_order_id integer REFERENCES purchase_order (purchase_order_id),
    created_at        timestamp(3) NOT NULL DEFAULT (now() AT TIME ZONE 'UTC'),
    last_updated      timestamp(3) NOT NULL DEFAULT (now() AT TIME ZONE 'UTC')
);

CREATE TABLE IF NOT EXISTS payment (
    payment_id             serial PRIMARY KEY,
    created_at             timestamp(3) NOT NULL DEFAULT (now() AT TIME ZONE 'UTC'),
    last_updated           timestamp(3) NOT NULL DEFAULT (now() AT TIME ZONE 'UTC'),
    transaction_id         integer NOT NULL REFERENCES "transaction" (transaction_id),
    counterparty_id        integer NOT NULL REFERENCES counterparty (counterparty_id),
    payment_amount         numeric(10, 2) NOT NULL,
    currency_id            integer NOT NULL REFERENCES currency (currency_id),
    payment_type_id        integer NOT NULL REFERENCES payment_type (payment_type_id),
    paid                   boolean NOT NULL,
    payment_date           varchar NOT NULL,
    company_ac_number      integer NOT NULL,
    counterparty_ac_number integer NOT NULL
);
