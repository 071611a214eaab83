-- The double-entry ledger and holds, and the rules the database enforces
-- whatever the caller: entries balance per currency, posted lines are never
-- updated or deleted, a hold is never negative.

CREATE TABLE journal_entries (
  id           bigserial PRIMARY KEY,
  posted_at    timestamptz NOT NULL DEFAULT now(),
  business_day date NOT NULL,
  kind         text NOT NULL,     -- atm_cash, purchase, refund, fee, reversal, voucher_*, completion, ...
  auth_id      bigint,            -- auth_log row that caused it, if any
  reverses_entry_id bigint REFERENCES journal_entries,
  description  text
);
CREATE INDEX journal_entries_auth ON journal_entries (auth_id) WHERE auth_id IS NOT NULL;

-- Convention: amount is the change of the account's balance as the account
-- holder sees it: +credit (money in), -debit (money out). Every entry's lines
-- sum to zero per currency, so money only moves, never appears.
CREATE TABLE journal_lines (
  id         bigserial PRIMARY KEY,
  entry_id   bigint   NOT NULL REFERENCES journal_entries,
  account_id bigint   NOT NULL REFERENCES accounts,
  currency   smallint NOT NULL REFERENCES currencies,
  amount     bigint   NOT NULL CHECK (amount <> 0),
  line_kind  text     NOT NULL DEFAULT 'principal'   -- principal, fee, conversion_fee, fx
);
CREATE INDEX journal_lines_entry ON journal_lines (entry_id);
CREATE INDEX journal_lines_account ON journal_lines (account_id, id);

-- A line's currency must be its account's currency.
-- Balance cache: accounts.ledger_balance follows every posted line.
CREATE FUNCTION journal_line_apply() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
  UPDATE accounts SET ledger_balance = ledger_balance + NEW.amount
   WHERE id = NEW.account_id AND currency = NEW.currency;
  IF NOT FOUND THEN
    RAISE EXCEPTION 'journal line currency % does not match account %', NEW.currency, NEW.account_id
      USING ERRCODE = 'check_violation';
  END IF;
  RETURN NULL;
END $$;
CREATE TRIGGER journal_lines_apply AFTER INSERT ON journal_lines
  FOR EACH ROW EXECUTE FUNCTION journal_line_apply();

-- Entries must balance per currency. Checked at commit (deferred), so the
-- lines of one entry may be inserted one by one within the transaction.
CREATE FUNCTION journal_entry_check_balanced() RETURNS trigger LANGUAGE plpgsql AS $$
DECLARE bad smallint;
BEGIN
  SELECT currency INTO bad FROM journal_lines
   WHERE entry_id = NEW.entry_id GROUP BY currency HAVING sum(amount) <> 0 LIMIT 1;
  IF FOUND THEN
    RAISE EXCEPTION 'journal entry % does not balance in currency %', NEW.entry_id, bad
      USING ERRCODE = 'check_violation';
  END IF;
  RETURN NULL;
END $$;
CREATE CONSTRAINT TRIGGER journal_lines_balanced AFTER INSERT ON journal_lines
  DEFERRABLE INITIALLY DEFERRED FOR EACH ROW
  EXECUTE FUNCTION journal_entry_check_balanced();

-- Nothing posted is ever updated or deleted: corrections are new entries.
CREATE FUNCTION ledger_immutable() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
  RAISE EXCEPTION '% of posted % is not allowed: post a correcting entry', TG_OP, TG_TABLE_NAME
    USING ERRCODE = 'restrict_violation';
END $$;
CREATE TRIGGER journal_lines_immutable BEFORE UPDATE OR DELETE ON journal_lines
  FOR EACH ROW EXECUTE FUNCTION ledger_immutable();
CREATE TRIGGER journal_lines_no_truncate BEFORE TRUNCATE ON journal_lines
  FOR EACH STATEMENT EXECUTE FUNCTION ledger_immutable();
CREATE TRIGGER journal_entries_immutable BEFORE UPDATE OR DELETE ON journal_entries
  FOR EACH ROW EXECUTE FUNCTION ledger_immutable();
CREATE TRIGGER journal_entries_no_truncate BEFORE TRUNCATE ON journal_entries
  FOR EACH STATEMENT EXECUTE FUNCTION ledger_immutable();

CREATE TYPE hold_status AS ENUM ('active', 'completed', 'reversed', 'expired', 'released');

-- A hold reserves amount (principal + fee, account currency) of the
-- account's available balance until completed, reversed or expired.
CREATE TABLE holds (
  id           bigserial PRIMARY KEY,
  account_id   bigint   NOT NULL REFERENCES accounts,
  card_id      bigint   REFERENCES cards,
  auth_id      bigint,
  currency     smallint NOT NULL,
  amount       bigint   NOT NULL CHECK (amount >= 0),     -- what is held now
  fee          bigint   NOT NULL DEFAULT 0 CHECK (fee >= 0),  -- part of amount that is fee
  original_amount bigint NOT NULL CHECK (original_amount >= 0),
  status       hold_status NOT NULL DEFAULT 'active',
  created_at   timestamptz NOT NULL DEFAULT now(),
  expires_at   timestamptz NOT NULL,
  closed_at    timestamptz,
  CHECK (fee <= amount OR status <> 'active'),
  CHECK ((status = 'active') = (closed_at IS NULL))
);
CREATE INDEX holds_account_active ON holds (account_id) WHERE status = 'active';
CREATE INDEX holds_expiry ON holds (expires_at) WHERE status = 'active';

-- Held-amount cache, like ledger_balance: follows every hold change.
CREATE FUNCTION hold_apply() RETURNS trigger LANGUAGE plpgsql AS $$
DECLARE delta bigint := 0;
BEGIN
  IF TG_OP IN ('UPDATE', 'DELETE') AND OLD.status = 'active' THEN delta := delta - OLD.amount; END IF;
  IF TG_OP IN ('UPDATE', 'INSERT') AND NEW.status = 'active' THEN delta := delta + NEW.amount; END IF;
  IF TG_OP = 'UPDATE' AND OLD.account_id <> NEW.account_id THEN
    RAISE EXCEPTION 'a hold cannot move between accounts' USING ERRCODE = 'check_violation';
  END IF;
  IF delta <> 0 THEN
    UPDATE accounts SET held_amount = held_amount + delta
     WHERE id = COALESCE(NEW.account_id, OLD.account_id);
  END IF;
  RETURN NULL;
END $$;
CREATE TRIGGER holds_apply AFTER INSERT OR UPDATE OR DELETE ON holds
  FOR EACH ROW EXECUTE FUNCTION hold_apply();

-- Available balance (ARCHITECTURE.md, Ledger).
CREATE FUNCTION account_available(a accounts) RETURNS bigint
  LANGUAGE sql IMMUTABLE AS
$$ SELECT a.ledger_balance - a.held_amount - a.minimum_balance + a.overdraft_limit $$;
