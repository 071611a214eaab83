-- What the switch records while it works: daily usage counters, the
-- authorisation log, stop-payments, cardless-cash vouchers; and what the
-- back office works on: disputes, error claims, clearing files, the audit log.

-- Daily usage per card, channel, transaction currency and business day
-- (Asia/Phnom_Penh). Amount in the transaction currency, principal only.
CREATE TABLE daily_usage (
  card_id      bigint   NOT NULL REFERENCES cards,
  business_day date     NOT NULL,
  channel      text     NOT NULL CHECK (channel IN ('cash', 'purchase')),
  currency     smallint NOT NULL,
  amount       bigint   NOT NULL DEFAULT 0 CHECK (amount >= 0),
  count        integer  NOT NULL DEFAULT 0 CHECK (count >= 0),
  PRIMARY KEY (card_id, business_day, channel, currency)
);

-- The authorisation log: one row per message the switch decided, with the
-- rule that decided it, the fee-table version, amounts and balances before
-- and after. (acquirer, terminal, stan, transmitted, msg_class) identifies a
-- message for duplicate detection (WIRE.md): a repeat gets the original
-- answer; the same key with other content gets 94.
CREATE TABLE auth_log (
  id               bigserial PRIMARY KEY,
  created_at       timestamptz NOT NULL DEFAULT now(),
  business_day     date NOT NULL,
  msg_class        text NOT NULL CHECK (msg_class IN ('auth', 'reversal', 'completion', 'voucher', 'inquiry')),
  mti              char(4),
  txn_type         text NOT NULL,     -- purchase, cash, preauth, refund, balance, cashback, completion, reversal, voucher_redeem
  proc_code        char(6),
  acquirer_id      text NOT NULL,     -- DE 32
  terminal_id      text NOT NULL,     -- DE 41
  stan             text NOT NULL,     -- DE 11
  transmitted      text NOT NULL,     -- DE 7 MMDDhhmmss as received
  rrn              text,              -- DE 37
  merchant_id      text,              -- DE 42
  mcc              char(4),
  own_terminal     boolean,
  channel          text,
  card_id          bigint,
  pan_hash         bytea,
  account_id       bigint,
  amount_txn       bigint NOT NULL DEFAULT 0,  -- DE 4
  currency_txn     smallint,                   -- DE 49
  amount_acct      bigint,                     -- converted, account currency
  currency_acct    smallint,
  rate_id          integer,
  rate             numeric(20,8),
  fee              bigint NOT NULL DEFAULT 0,  -- acquiring/inquiry fee, account currency
  fee_conversion   bigint NOT NULL DEFAULT 0,
  fee_version_id   integer,                    -- product_versions.id that priced it
  ledger_before    bigint,
  ledger_after     bigint,
  available_before bigint,
  available_after  bigint,
  response_code    char(2) NOT NULL,
  rule             text NOT NULL,              -- the rule that decided the answer
  approval_code    char(6),
  hold_id          bigint,
  entry_id         bigint,
  original_auth_id bigint,                     -- completions, reversals
  reversed_amount  bigint NOT NULL DEFAULT 0,  -- principal given back so far
  completed        boolean NOT NULL DEFAULT false,
  recurring        boolean NOT NULL DEFAULT false,
  retention_class  text NOT NULL DEFAULT 'auth' REFERENCES retention_classes
);
CREATE UNIQUE INDEX auth_log_msg_key ON auth_log (acquirer_id, terminal_id, stan, transmitted, msg_class);
CREATE INDEX auth_log_card ON auth_log (card_id, created_at);
CREATE INDEX auth_log_account ON auth_log (account_id, created_at);
CREATE INDEX auth_log_approval ON auth_log (approval_code, pan_hash) WHERE approval_code IS NOT NULL;

-- Customer's "stop all future payments to this merchant" (answers 57).
CREATE TABLE stop_payments (
  id          bigserial PRIMARY KEY,
  card_id     bigint NOT NULL REFERENCES cards,
  merchant_id text   NOT NULL,                 -- DE 42
  created_at  timestamptz NOT NULL DEFAULT now(),
  lifted_at   timestamptz,
  reason      text
);
CREATE UNIQUE INDEX stop_payments_active ON stop_payments (card_id, merchant_id) WHERE lifted_at IS NULL;

-- Cardless cash: money leaves the sender at creation (to the voucher
-- suspense account) and reaches the ATM's cash at redemption or returns to
-- the sender at expiry. The 8-digit code is stored only as a keyed hash.
CREATE TYPE voucher_status AS ENUM ('active', 'redeemed', 'expired', 'locked', 'cancelled');
CREATE TABLE cardless_vouchers (
  id                bigserial PRIMARY KEY,
  reference         text NOT NULL UNIQUE CHECK (reference ~ '^[0-9]{6,16}$'),  -- the cash-account number given to the recipient
  sender_account_id bigint NOT NULL REFERENCES accounts,
  recipient_phone   text NOT NULL,
  code_hash         bytea NOT NULL CHECK (length(code_hash) = 32),
  amount            bigint NOT NULL CHECK (amount > 0),
  currency          smallint NOT NULL REFERENCES currencies,
  status            voucher_status NOT NULL DEFAULT 'active',
  tries             smallint NOT NULL DEFAULT 0 CHECK (tries >= 0),
  created_at        timestamptz NOT NULL DEFAULT now(),
  expires_at        timestamptz NOT NULL,
  closed_at         timestamptz,
  create_entry_id   bigint REFERENCES journal_entries,
  close_entry_id    bigint REFERENCES journal_entries
);
CREATE INDEX cardless_vouchers_expiry ON cardless_vouchers (expires_at) WHERE status IN ('active', 'locked');

-- Disputes (raised within 15 days) and error claims (reviewed in 30, resolved in 90).
CREATE TABLE disputes (
  id          bigserial PRIMARY KEY,
  auth_id     bigint NOT NULL REFERENCES auth_log,
  card_id     bigint NOT NULL REFERENCES cards,
  kind        text NOT NULL CHECK (kind IN ('dispute', 'error_claim')),
  reason      text NOT NULL,
  status      text NOT NULL DEFAULT 'open' CHECK (status IN ('open', 'reviewing', 'accepted', 'rejected', 'closed')),
  opened_at   timestamptz NOT NULL DEFAULT now(),
  review_by   timestamptz NOT NULL,
  resolve_by  timestamptz NOT NULL,
  resolved_at timestamptz,
  entry_id    bigint REFERENCES journal_entries,   -- correction, if any
  retention_class text NOT NULL DEFAULT 'correction' REFERENCES retention_classes
);

CREATE TABLE clearing_files (
  id           bigserial PRIMARY KEY,
  scheme       card_scheme NOT NULL,
  file_id      text NOT NULL,             -- IPM PDS 0105 / BASE II header id
  file_sha256  bytea NOT NULL,
  business_day date NOT NULL,
  imported_at  timestamptz NOT NULL DEFAULT now(),
  record_count integer NOT NULL DEFAULT 0,
  UNIQUE (scheme, file_id),
  UNIQUE (file_sha256)
);

CREATE TABLE clearing_records (
  id             bigserial PRIMARY KEY,
  file_id        bigint NOT NULL REFERENCES clearing_files,
  seq            integer NOT NULL,
  byte_offset    bigint NOT NULL,
  kind           text NOT NULL,            -- presentment, credit, reversal, representment, chargeback, fee
  pan_hash       bytea,
  approval_code  char(6),
  amount         bigint NOT NULL,
  currency       smallint NOT NULL,
  txn_date       date,
  matched_auth_id bigint REFERENCES auth_log,
  entry_id       bigint REFERENCES journal_entries,
  outcome        text NOT NULL CHECK (outcome IN ('matched', 'late', 'force', 'exception')),
  UNIQUE (file_id, seq)
);

CREATE TABLE clearing_exceptions (
  id          bigserial PRIMARY KEY,
  record_id   bigint NOT NULL REFERENCES clearing_records,
  reason      text NOT NULL,
  created_at  timestamptz NOT NULL DEFAULT now(),
  resolved_at timestamptz,
  resolution  text
);

-- Operator actions (switchctl), append-only like the ledger.
CREATE TABLE audit_log (
  id        bigserial PRIMARY KEY,
  at        timestamptz NOT NULL DEFAULT clock_timestamp(),
  operator  text NOT NULL DEFAULT session_user,
  action    text NOT NULL,
  object    text NOT NULL,
  details   jsonb
);
CREATE TRIGGER audit_log_immutable BEFORE UPDATE OR DELETE ON audit_log
  FOR EACH ROW EXECUTE FUNCTION ledger_immutable();
