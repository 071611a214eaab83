-- Customers, accounts (customers' and the bank's own), merchants, terminals,
-- cards. Hot tables are keyed by account or card (ARCHITECTURE.md, Scaling).

CREATE TABLE customers (
  id         bigserial PRIMARY KEY,
  full_name  text NOT NULL,
  phone      text,
  national_id text,
  created_at timestamptz NOT NULL DEFAULT now()
);

CREATE TYPE account_kind   AS ENUM ('savings', 'current', 'internal');
CREATE TYPE account_status AS ENUM ('active', 'frozen', 'dormant', 'closed');

-- ledger_balance and held_amount are caches kept in the same transaction as
-- the journal line / hold that changes them (triggers in 003), so that an
-- authorisation reads one row instead of summing history. The tests check
-- ledger_balance = sum(posted lines) and held_amount = sum(active holds).
CREATE TABLE accounts (
  id              bigserial PRIMARY KEY,
  number          text NOT NULL UNIQUE,
  customer_id     bigint REFERENCES customers,
  kind            account_kind NOT NULL,
  currency        smallint NOT NULL REFERENCES currencies,
  status          account_status NOT NULL DEFAULT 'active',
  minimum_balance bigint NOT NULL DEFAULT 0 CHECK (minimum_balance >= 0),
  overdraft_limit bigint NOT NULL DEFAULT 0 CHECK (overdraft_limit >= 0),
  ledger_balance  bigint NOT NULL DEFAULT 0,
  held_amount     bigint NOT NULL DEFAULT 0 CHECK (held_amount >= 0),
  purpose         text,   -- internal accounts: atm_cash, fee_income, fx_position, ...
  opened_at       timestamptz NOT NULL DEFAULT now(),
  closed_at       timestamptz,
  CHECK ((kind = 'internal') = (customer_id IS NULL))
);
CREATE INDEX accounts_customer ON accounts (customer_id);
-- one internal account per purpose and currency (plus per-ATM cash accounts)
CREATE UNIQUE INDEX accounts_internal_purpose ON accounts (purpose, currency)
  WHERE kind = 'internal' AND purpose NOT LIKE 'atm_cash:%';

CREATE TABLE merchants (
  id        bigserial PRIMARY KEY,
  merchant_id text NOT NULL UNIQUE,          -- DE 42
  name      text NOT NULL,
  city      text NOT NULL DEFAULT 'Phnom Penh',
  country   char(3) NOT NULL DEFAULT '116',
  mcc       char(4) NOT NULL CHECK (mcc ~ '^[0-9]{4}$'),
  settlement_account_id bigint REFERENCES accounts
);

CREATE TYPE terminal_kind AS ENUM ('atm', 'pos');

CREATE TABLE terminals (
  id           bigserial PRIMARY KEY,
  terminal_id  char(8) NOT NULL UNIQUE,     -- DE 41
  kind         terminal_kind NOT NULL,
  institution_id integer NOT NULL REFERENCES institutions,   -- owner
  merchant_id  bigint REFERENCES merchants,
  mcc          char(4) NOT NULL CHECK (mcc ~ '^[0-9]{4}$'),
  location     text NOT NULL,
  status       text NOT NULL DEFAULT 'active' CHECK (status IN ('active','inactive')),
  tmk_key_id   integer REFERENCES crypto_keys,
  tpk_key_id   integer REFERENCES crypto_keys,
  tak_key_id   integer REFERENCES crypto_keys,
  cash_account_usd bigint REFERENCES accounts,   -- ATMs: cash dispensed from
  cash_account_khr bigint REFERENCES accounts
);

CREATE TYPE card_status AS ENUM
  ('inactive', 'active', 'blocked_customer', 'blocked_bank',
   'lost', 'stolen', 'expired', 'closed');
CREATE TYPE pin_method AS ENUM ('pvv', 'ibm3624');

-- A card is always on an account (NOT NULL + foreign key: the database
-- refuses a card without one). The PAN itself is never stored in clear:
-- pan_hash = HMAC-SHA-256(operator key, PAN) for look-up, pan_enc =
-- AES-256-GCM(operator key, PAN) (nonce || ciphertext || tag), pan_masked
-- = first 6 + last 4 for display (see docs/database.md, "Keys").
CREATE TABLE cards (
  id                 bigserial PRIMARY KEY,
  pan_hash           bytea NOT NULL UNIQUE CHECK (length(pan_hash) = 32),
  pan_enc            bytea NOT NULL,
  pan_masked         text  NOT NULL CHECK (pan_masked ~ '^[0-9]{6}\*+[0-9]{4}$'),
  account_id         bigint NOT NULL REFERENCES accounts,
  customer_id        bigint NOT NULL REFERENCES customers,
  product_id         integer NOT NULL REFERENCES products,
  is_primary         boolean NOT NULL DEFAULT true,
  expiry             date NOT NULL,          -- last day of the YYMM month
  service_code       char(3) NOT NULL DEFAULT '201' CHECK (service_code ~ '^[0-9]{3}$'),
  status             card_status NOT NULL DEFAULT 'active',
  status_reason      text,
  status_changed_at  timestamptz NOT NULL DEFAULT clock_timestamp(),
  -- PIN verification data: method, PVKI, PVV (4 digits) or IBM offset
  -- (4-12 digits), the PVK that made it. NULL until hsm-sim provides it.
  pin_method         pin_method,
  pvki               smallint CHECK (pvki BETWEEN 0 AND 9),
  pin_verify_data    text CHECK (pin_verify_data ~ '^[0-9]{4,12}$'),
  pvk_key_id         integer REFERENCES crypto_keys,
  pin_tries          smallint NOT NULL DEFAULT 0 CHECK (pin_tries >= 0),
  -- Customer's own daily amount limit, USD minor units (KHR by reference
  -- rate), never above the product's: enforced at use, min(card, product).
  customer_daily_limit bigint CHECK (customer_daily_limit >= 0),
  issued_at          timestamptz NOT NULL DEFAULT now(),
  CHECK ((pin_method IS NULL) = (pin_verify_data IS NULL))
);
CREATE INDEX cards_account ON cards (account_id);
CREATE INDEX cards_customer ON cards (customer_id);
