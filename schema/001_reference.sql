-- Reference data: currencies, institutions, BIN ranges, card products with
-- effective-dated, versioned limits and fees, exchange rates, bank settings,
-- retention classes. Everything the rules read but no message changes.
-- Money is bigint minor units + ISO 4217 numeric currency; never floating point.

CREATE EXTENSION IF NOT EXISTS pgcrypto;

CREATE TABLE currencies (
  code      smallint PRIMARY KEY,            -- ISO 4217 numeric
  alpha     char(3)  NOT NULL UNIQUE,
  exponent  smallint NOT NULL CHECK (exponent BETWEEN 0 AND 3)
);
INSERT INTO currencies VALUES (840, 'USD', 2), (116, 'KHR', 2);

-- One row: knobs the rules read on every message, in one cheap lookup.
CREATE TABLE bank_settings (
  id                    boolean PRIMARY KEY DEFAULT true CHECK (id),
  own_acquirer_id       text     NOT NULL,   -- DE 32 our own terminals send
  business_tz           text     NOT NULL DEFAULT 'Asia/Phnom_Penh',
  pin_max_tries         smallint NOT NULL DEFAULT 3 CHECK (pin_max_tries > 0),
  khr_per_usd_reference bigint   NOT NULL DEFAULT 4000 CHECK (khr_per_usd_reference > 0),
  hold_days             integer  NOT NULL DEFAULT 32 CHECK (hold_days > 0),
  completion_tolerance_pct integer NOT NULL DEFAULT 20 CHECK (completion_tolerance_pct >= 0),
  voucher_max_tries     smallint NOT NULL DEFAULT 3 CHECK (voucher_max_tries > 0),
  voucher_days          integer  NOT NULL DEFAULT 30 CHECK (voucher_days > 0)
);
INSERT INTO bank_settings (own_acquirer_id) VALUES ('00000000001');

CREATE TABLE institutions (
  id           serial PRIMARY KEY,
  name         text NOT NULL,
  acquirer_id  text UNIQUE,                  -- DE 32 identification
  is_self      boolean NOT NULL DEFAULT false
);
CREATE UNIQUE INDEX institutions_one_self ON institutions (is_self) WHERE is_self;

CREATE TYPE card_scheme AS ENUM ('visa', 'mastercard', 'unionpay');

-- Which cards are ours: a PAN whose prefix falls in a range of ours.
CREATE TABLE bin_ranges (
  id             serial PRIMARY KEY,
  institution_id integer NOT NULL REFERENCES institutions,
  scheme         card_scheme NOT NULL,
  low            text NOT NULL CHECK (low ~ '^[0-9]{6,12}$'),
  high           text NOT NULL CHECK (high ~ '^[0-9]{6,12}$'),
  CHECK (length(low) = length(high) AND low <= high)
);

CREATE TABLE products (
  id      serial PRIMARY KEY,
  code    text NOT NULL UNIQUE,              -- e.g. VISA_CLASSIC
  name    text NOT NULL,
  scheme  card_scheme NOT NULL
);

-- Limits and fees of a product, effective-dated. A change is a new version,
-- never an update of one in use: each authorisation records the version id
-- that priced it (auth_log.fee_version_id).
CREATE TABLE product_versions (
  id                      serial PRIMARY KEY,
  product_id              integer NOT NULL REFERENCES products,
  version                 integer NOT NULL,
  effective_from          timestamptz NOT NULL,
  validity_years          smallint NOT NULL,
  -- limits, in USD minor units; KHR figures = USD x khr_per_usd_reference
  daily_amount_limit      bigint  NOT NULL CHECK (daily_amount_limit >= 0),
  daily_cash_count        integer NOT NULL CHECK (daily_cash_count >= 0),
  daily_purchase_count    integer NOT NULL CHECK (daily_purchase_count >= 0),
  -- fees: basis points of the amount, minimums and flat fees in USD minor units
  annual_fee              bigint  NOT NULL DEFAULT 0,
  fee_foreign_cash_bp     integer NOT NULL DEFAULT 200,
  fee_foreign_cash_min    bigint  NOT NULL DEFAULT 500,
  fee_conversion_bp       integer NOT NULL DEFAULT 200,
  fee_balance_foreign     bigint  NOT NULL DEFAULT 50,
  fee_new_pin             bigint  NOT NULL DEFAULT 200,
  fee_card_retained       bigint  NOT NULL DEFAULT 500,
  UNIQUE (product_id, version),
  UNIQUE (product_id, effective_from)
);

-- Exchange rates: 1 unit of from_currency = rate units of to_currency.
-- numeric is exact decimal, not floating point.
CREATE TABLE exchange_rates (
  id             serial PRIMARY KEY,
  from_currency  smallint NOT NULL REFERENCES currencies,
  to_currency    smallint NOT NULL REFERENCES currencies,
  rate           numeric(20,8) NOT NULL CHECK (rate > 0),
  effective_from timestamptz NOT NULL,
  UNIQUE (from_currency, to_currency, effective_from),
  CHECK (from_currency <> to_currency)
);

-- Retention (PRODUCTS.md "Records"): 5 years, 1 year for small KHR
-- transactions, authorisation records and error-correction requests.
CREATE TABLE retention_classes (
  code        text PRIMARY KEY,
  description text NOT NULL,
  keep        interval NOT NULL
);
INSERT INTO retention_classes VALUES
  ('txn',        'transaction records',                         '5 years'),
  ('txn_small',  'transactions of KHR 30,000 or less',           '1 year'),
  ('auth',       'authorisation records',                        '1 year'),
  ('correction', 'error-correction requests',                    '1 year'),
  ('audit',      'operator actions',                             '5 years');

-- Keys live only as LMK-encrypted hex + KCV as produced by hsm-sim.
CREATE TABLE crypto_keys (
  id        serial PRIMARY KEY,
  kind      text NOT NULL CHECK (kind IN ('PVK','CVK','TMK','TPK','TAK','ZPK','ZMK')),
  label     text NOT NULL UNIQUE,
  key_lmk   text NOT NULL CHECK (key_lmk ~ '^[0-9A-Za-z]{16,80}$'),
  kcv       text NOT NULL CHECK (kcv ~ '^[0-9A-Fa-f]{6}$'),
  created_at timestamptz NOT NULL DEFAULT now()
);
