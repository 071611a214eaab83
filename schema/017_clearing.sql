-- Clearing (issue 8, CLEARING.md): a scheme's file is imported in one
-- transaction. switchctl reads and checks the file (switch/clearing/),
-- hashes each PAN and COPYs the records into a session table (clearing_stage);
-- clearing_import() then matches and posts them all, set-based.
--
-- Parts:
--   1. the ledger's caches and checks per statement (a file is a million lines)
--   2. clearing tables: more columns, outcomes, the write-off account
--   3. clearing_import(): match, post, release holds, queue exceptions
--   4. exceptions: resolve to an account, write off
--   5. the reconciliation report

-- 1. The balance caches follow posted lines and holds per statement, not per
--    row: a clearing file posts a million lines in one statement, and a row
--    trigger would update the scheme's settlement account a million times
--    (each update of one row in one transaction makes the next one slower).
--    Per statement the lines are summed per account first. Accounts are
--    updated customers first, then internal ones, each in id order: one
--    global order, so two statements never deadlock on each other, and the
--    callers that lock a customer account first (authorise, reverse...) keep
--    doing so before any internal account.
DROP TRIGGER journal_lines_apply ON journal_lines;
DROP FUNCTION journal_line_apply();
DROP TRIGGER holds_apply ON holds;
DROP FUNCTION hold_apply();

-- Add p_deltas[i] to ledger_balance (p_held: held_amount) of account
-- p_accounts[i], locking in the order given (the callers sort: customer
-- accounts, then the bank's, each by id). Few accounts (an authorisation):
-- one update each; many (a clearing file): lock them in that order, then
-- one update.
CREATE FUNCTION accounts_apply_deltas(p_accounts bigint[], p_deltas bigint[], p_held boolean)
RETURNS void LANGUAGE plpgsql AS $$
BEGIN
  IF coalesce(cardinality(p_accounts), 0) <= 16 THEN
    FOR i IN 1 .. coalesce(cardinality(p_accounts), 0) LOOP
      IF p_held THEN
        UPDATE accounts SET held_amount = held_amount + p_deltas[i] WHERE id = p_accounts[i];
      ELSE
        UPDATE accounts SET ledger_balance = ledger_balance + p_deltas[i] WHERE id = p_accounts[i];
      END IF;
    END LOOP;
  ELSE
    PERFORM 1 FROM accounts a JOIN unnest(p_accounts) WITH ORDINALITY AS u(id, k) ON a.id = u.id
      ORDER BY u.k FOR NO KEY UPDATE OF a;
    UPDATE accounts a
       SET held_amount = a.held_amount + CASE WHEN p_held THEN d.delta ELSE 0 END,
           ledger_balance = a.ledger_balance + CASE WHEN p_held THEN 0 ELSE d.delta END
      FROM unnest(p_accounts, p_deltas) AS d(account_id, delta) WHERE a.id = d.account_id;
  END IF;
END $$;

-- Lines: summed per account in one query that also finds a line whose
-- currency is not its account's.
CREATE FUNCTION journal_lines_apply() RETURNS trigger LANGUAGE plpgsql AS $$
DECLARE
  acc bigint[];
  del bigint[];
  bad_account bigint;
  bad_currency smallint;
BEGIN
  SELECT array_agg(g.account_id ORDER BY a.kind = 'internal', g.account_id) FILTER (WHERE g.delta <> 0),
         array_agg(g.delta ORDER BY a.kind = 'internal', g.account_id) FILTER (WHERE g.delta <> 0),
         min(g.account_id) FILTER (WHERE a.id IS NULL), min(g.currency) FILTER (WHERE a.id IS NULL)
    INTO acc, del, bad_account, bad_currency
    FROM (SELECT account_id, currency, sum(amount)::bigint AS delta FROM new_lines GROUP BY 1, 2) g
    LEFT JOIN accounts a ON a.id = g.account_id AND a.currency = g.currency;
  IF bad_account IS NOT NULL THEN
    RAISE EXCEPTION 'journal line currency % does not match account %', bad_currency, bad_account
      USING ERRCODE = 'check_violation';
  END IF;
  PERFORM accounts_apply_deltas(acc, del, false);
  RETURN NULL;
END $$;
CREATE TRIGGER journal_lines_apply AFTER INSERT ON journal_lines
  REFERENCING NEW TABLE AS new_lines FOR EACH STATEMENT EXECUTE FUNCTION journal_lines_apply();

-- A hold's active amount counts in held_amount. Each event sees only its
-- own transition tables, hence one trigger function per event, each summing
-- the change per account (holds are on customer accounts: id order).
CREATE FUNCTION holds_apply_insert() RETURNS trigger LANGUAGE plpgsql AS $$
DECLARE
  acc bigint[];
  del bigint[];
BEGIN
  SELECT array_agg(account_id ORDER BY account_id), array_agg(delta ORDER BY account_id) INTO acc, del
    FROM (SELECT account_id, sum(amount)::bigint AS delta FROM new_holds WHERE status = 'active'
           GROUP BY account_id HAVING sum(amount) <> 0) d;
  PERFORM accounts_apply_deltas(acc, del, true);
  RETURN NULL;
END $$;
CREATE FUNCTION holds_apply_update() RETURNS trigger LANGUAGE plpgsql AS $$
DECLARE
  acc bigint[];
  del bigint[];
BEGIN
  PERFORM 1 FROM old_holds o JOIN new_holds n ON n.id = o.id WHERE n.account_id <> o.account_id;
  IF FOUND THEN
    RAISE EXCEPTION 'a hold cannot move between accounts' USING ERRCODE = 'check_violation';
  END IF;
  SELECT array_agg(account_id ORDER BY account_id), array_agg(delta ORDER BY account_id) INTO acc, del
    FROM (SELECT account_id, sum(delta)::bigint AS delta FROM (
            SELECT account_id, amount AS delta FROM new_holds WHERE status = 'active'
            UNION ALL
            SELECT account_id, -amount FROM old_holds WHERE status = 'active') x
           GROUP BY account_id HAVING sum(delta) <> 0) d;
  PERFORM accounts_apply_deltas(acc, del, true);
  RETURN NULL;
END $$;
CREATE FUNCTION holds_apply_delete() RETURNS trigger LANGUAGE plpgsql AS $$
DECLARE
  acc bigint[];
  del bigint[];
BEGIN
  SELECT array_agg(account_id ORDER BY account_id), array_agg(delta ORDER BY account_id) INTO acc, del
    FROM (SELECT account_id, -sum(amount)::bigint AS delta FROM old_holds WHERE status = 'active'
           GROUP BY account_id HAVING sum(amount) <> 0) d;
  PERFORM accounts_apply_deltas(acc, del, true);
  RETURN NULL;
END $$;
CREATE TRIGGER holds_apply_insert AFTER INSERT ON holds
  REFERENCING NEW TABLE AS new_holds FOR EACH STATEMENT EXECUTE FUNCTION holds_apply_insert();
CREATE TRIGGER holds_apply_update AFTER UPDATE ON holds
  REFERENCING OLD TABLE AS old_holds NEW TABLE AS new_holds
  FOR EACH STATEMENT EXECUTE FUNCTION holds_apply_update();
CREATE TRIGGER holds_apply_delete AFTER DELETE ON holds
  REFERENCING OLD TABLE AS old_holds FOR EACH STATEMENT EXECUTE FUNCTION holds_apply_delete();

-- Accounts are updated by every posting: room on each page lets the update
-- stay on its page (a HOT update, no index entries to add).
ALTER TABLE accounts SET (fillfactor = 70);

-- Entries balance per currency, checked at commit once per entry (it was
-- once per line: a million-line file checked each entry two or three times).
-- Lines may be added only to an entry made in the same transaction, so an
-- entry checked at its commit stays balanced: journal_entries.xact is the
-- top-level transaction that made it.
ALTER TABLE journal_entries ADD COLUMN xact xid8 NOT NULL DEFAULT pg_current_xact_id();
DROP TRIGGER journal_lines_balanced ON journal_lines;
DROP FUNCTION journal_entry_check_balanced();
CREATE FUNCTION journal_entry_check_balanced() RETURNS trigger LANGUAGE plpgsql AS $$
DECLARE bad smallint;
BEGIN
  SELECT currency INTO bad FROM journal_lines
   WHERE entry_id = NEW.id GROUP BY currency HAVING sum(amount) <> 0 LIMIT 1;
  IF FOUND THEN
    RAISE EXCEPTION 'journal entry % does not balance in currency %', NEW.id, bad
      USING ERRCODE = 'check_violation';
  END IF;
  RETURN NULL;
END $$;
CREATE CONSTRAINT TRIGGER journal_entries_balanced AFTER INSERT ON journal_entries
  DEFERRABLE INITIALLY DEFERRED FOR EACH ROW EXECUTE FUNCTION journal_entry_check_balanced();

-- Per statement: every new line's entry exists and was made by this
-- transaction. This replaces the foreign key from lines to entries (a
-- locking look-up per line); entries are never deleted (ledger_immutable),
-- so the key's other half had nothing left to guard. Likewise the key from
-- lines to currencies: journal_lines_apply checks the line's currency is
-- its account's, and accounts.currency references currencies.
CREATE FUNCTION journal_lines_check_entry() RETURNS trigger LANGUAGE plpgsql AS $$
DECLARE
  e bigint;
  j_xact xid8;
BEGIN
  SELECT n.entry_id, j.xact INTO e, j_xact
    FROM new_lines n LEFT JOIN journal_entries j ON j.id = n.entry_id
   WHERE j.id IS NULL OR j.xact <> pg_current_xact_id() LIMIT 1;
  IF FOUND AND j_xact IS NULL THEN
    RAISE EXCEPTION 'journal line refers to entry %, which does not exist', e
      USING ERRCODE = 'foreign_key_violation';
  ELSIF FOUND THEN
    RAISE EXCEPTION 'journal entry % was posted by an earlier transaction: post a new entry', e
      USING ERRCODE = 'restrict_violation';
  END IF;
  RETURN NULL;
END $$;
CREATE TRIGGER journal_lines_check_entry AFTER INSERT ON journal_lines
  REFERENCING NEW TABLE AS new_lines FOR EACH STATEMENT EXECUTE FUNCTION journal_lines_check_entry();
ALTER TABLE journal_lines DROP CONSTRAINT journal_lines_entry_id_fkey;
ALTER TABLE journal_lines DROP CONSTRAINT journal_lines_currency_fkey;

-- 2. Clearing tables. A record keeps what the report and an operator need:
--    never the PAN (pan_hash to find the card, pan_masked to show it).
ALTER TABLE clearing_files
  ADD COLUMN file_name   text,
  ADD COLUMN byte_size   bigint,
  ADD COLUMN ebcdic      boolean,
  ADD COLUMN blocked     boolean,
  ADD COLUMN messages    integer,
  ADD COLUMN amount_total bigint,
  ADD COLUMN operator    text NOT NULL DEFAULT session_user;

ALTER TABLE clearing_records
  DROP CONSTRAINT clearing_records_outcome_check,
  ADD COLUMN mti            text,
  ADD COLUMN func           text,
  ADD COLUMN proc           text,
  ADD COLUMN pan_masked     text,
  ADD COLUMN arn            text,
  ADD COLUMN bill_amount    bigint,
  ADD COLUMN bill_currency  smallint,
  ADD COLUMN acquirer_id    text,
  ADD COLUMN terminal_id    text,
  ADD COLUMN merchant_id    text,
  ADD COLUMN merchant_name  text,
  ADD COLUMN merchant_city  text,
  ADD COLUMN merchant_country text,
  ADD COLUMN mcc            text,
  ADD COLUMN reason_code    text,
  ADD COLUMN card_id        bigint,
  ADD COLUMN account_id     bigint,
  ADD COLUMN amount_acct    bigint,      -- posted principal, account currency
  ADD COLUMN currency_acct  smallint,
  ADD COLUMN fee            bigint NOT NULL DEFAULT 0,   -- acquiring fee posted, account currency
  ADD COLUMN fee_conversion bigint NOT NULL DEFAULT 0,
  ADD COLUMN settle_amount  bigint,      -- owed to (+) or by (-) the scheme for it
  ADD COLUMN settle_currency smallint,
  ADD COLUMN reverses_record_id bigint REFERENCES clearing_records,
  ADD COLUMN detail         text,        -- why: rule or exception reason
  ADD CONSTRAINT clearing_records_kind_check CHECK (kind IN
    ('presentment', 'representment', 'credit', 'presentment_reversal', 'credit_reversal', 'chargeback', 'fee')),
  -- matched: to its authorisation; late: its hold had expired; force: no
  -- authorisation (offline) or a credit; reversed: undid an earlier record;
  -- reported: scheme-to-bank money (chargebacks, fees) counted, not posted
  -- to a cardholder; exception: queued for an operator.
  ADD CONSTRAINT clearing_records_outcome_check CHECK (outcome IN
    ('matched', 'late', 'force', 'reversed', 'reported', 'exception'));
CREATE INDEX clearing_records_arn ON clearing_records (arn, kind);
CREATE INDEX clearing_records_auth ON clearing_records (matched_auth_id) WHERE matched_auth_id IS NOT NULL;
CREATE INDEX clearing_records_reverses ON clearing_records (reverses_record_id) WHERE reverses_record_id IS NOT NULL;
CREATE INDEX clearing_exceptions_open ON clearing_exceptions (created_at) WHERE resolved_at IS NULL;
CREATE UNIQUE INDEX clearing_exceptions_record ON clearing_exceptions (record_id);
CREATE INDEX auth_log_card_approval ON auth_log (card_id, approval_code) WHERE approval_code IS NOT NULL;
ALTER TABLE clearing_exceptions ADD COLUMN entry_id bigint REFERENCES journal_entries,
                                ADD COLUMN resolved_by text;

-- The bank's loss account for written-off exceptions (what the scheme is
-- owed for a record no cardholder can be charged for).
INSERT INTO accounts (number, kind, currency, purpose)
SELECT 'GL-CLEARING_WRITEOFF-' || c.alpha, 'internal', c.code, 'clearing_writeoff' FROM currencies c;

-- The session table switchctl COPYs a file's records into (one per import).
CREATE FUNCTION clearing_stage_create() RETURNS void LANGUAGE plpgsql AS $$
BEGIN
  DROP TABLE IF EXISTS clearing_stage;
  CREATE TEMP TABLE clearing_stage (
    seq integer NOT NULL, byte_offset bigint NOT NULL, kind text NOT NULL, mti text, func text, proc text,
    pan_hash bytea, pan_masked text, amount bigint NOT NULL, currency smallint NOT NULL,
    bill_amount bigint, bill_currency smallint, txn_date date, approval text, arn text,
    acquirer_id text, terminal_id text, merchant_id text, merchant_name text, merchant_city text,
    merchant_country text, mcc text, reason_code text
  ) ON COMMIT DROP;
END $$;

-- 3. Import. Tolerance of a presentment against its authorisation: not more
--    than authorised, except where a tip is added after authorisation
--    (restaurants, bars, fast food, taxis, beauty salons: 20% by default,
--    bank_settings.completion_tolerance_pct). Less is always fine (fuel
--    pumps, partial shipments): the rest of the hold is released.
CREATE FUNCTION clearing_within_tolerance(p_presented bigint, p_authorised bigint, p_mcc text, p_pct integer)
RETURNS boolean LANGUAGE sql IMMUTABLE AS $$
  SELECT p_presented <= p_authorised
      OR (p_mcc IN ('5812', '5813', '5814', '4121', '7230')
          AND p_presented * 100 <= p_authorised * (100 + p_pct))
$$;

-- Import the records in clearing_stage as one file; the caller's
-- transaction makes it atomic. Returns the clearing_files id. A file whose
-- SHA-256 or (scheme, file id) is known fails on the unique keys: switchctl
-- checks first and says "already imported".
CREATE FUNCTION clearing_import(p_scheme card_scheme, p_file_id text, p_sha256 bytea, p_business_day date,
                                p_file_name text, p_byte_size bigint, p_ebcdic boolean, p_blocked boolean,
                                p_messages integer, p_amount_total bigint)
RETURNS bigint LANGUAGE plpgsql AS $$
DECLARE
  s  bank_settings;
  f  bigint;
  v_now timestamptz := now();
BEGIN
  SELECT * INTO s FROM bank_settings;
  INSERT INTO clearing_files (scheme, file_id, file_sha256, business_day, record_count, file_name, byte_size,
                              ebcdic, blocked, messages, amount_total)
    VALUES (p_scheme, p_file_id, p_sha256, p_business_day, (SELECT count(*) FROM clearing_stage), p_file_name,
            p_byte_size, p_ebcdic, p_blocked, p_messages, p_amount_total)
    RETURNING id INTO f;

  -- A. Every record with its card and account; presentments and credits
  --    with the authorisation they match (same card, approval code and
  --    currency, within 7 days, not cleared before, nearest amount).
  CREATE TEMP TABLE clearing_work ON COMMIT DROP AS
  SELECT st.*, c.id AS card_id, c.status AS card_status, c.product_id, a.id AS account_id, a.currency AS acur,
         m.id AS auth_id, m.hold_id, m.hold_active, m.rate AS auth_rate, m.fee AS auth_fee,
         m.fee_conversion AS auth_conv, m.amount_acct AS auth_amount_acct, m.amount_txn AS auth_amount_txn,
         CASE WHEN st.currency IN (840, 116) THEN st.currency
              WHEN st.bill_currency IN (840, 116) AND st.bill_amount > 0 THEN st.bill_currency END AS scur,
         CASE WHEN st.currency IN (840, 116) THEN st.amount
              WHEN st.bill_currency IN (840, 116) AND st.bill_amount > 0 THEN st.bill_amount END AS samt,
         CASE WHEN st.arn IS NULL THEN 1
              ELSE row_number() OVER (PARTITION BY st.arn, st.kind ORDER BY st.seq) END AS arn_rank,
         EXISTS (SELECT 1 FROM clearing_records r JOIN clearing_files cf ON cf.id = r.file_id
                  WHERE r.arn = st.arn AND r.kind = st.kind AND cf.scheme = p_scheme
                    AND r.outcome IN ('matched', 'late', 'force')
                    AND NOT EXISTS (SELECT 1 FROM clearing_records x
                                     WHERE x.reverses_record_id = r.id AND x.outcome = 'reversed')) AS arn_seen
    FROM clearing_stage st
    LEFT JOIN cards c ON c.pan_hash = st.pan_hash
    LEFT JOIN accounts a ON a.id = c.account_id
    LEFT JOIN LATERAL (
      -- A completed pre-authorisation counts at its completed amount.
      SELECT l.id, l.hold_id, h.status = 'active' AS hold_active, l.rate, l.fee, l.fee_conversion,
             coalesce(cm.amount_acct, l.amount_acct) AS amount_acct, coalesce(cm.amount_txn, l.amount_txn) AS amount_txn
        FROM auth_log l LEFT JOIN holds h ON h.id = l.hold_id
        LEFT JOIN LATERAL (SELECT x.amount_acct, x.amount_txn FROM auth_log x
                            WHERE l.completed AND x.original_auth_id = l.id AND x.msg_class = 'completion'
                              AND x.response_code = '00' ORDER BY x.id DESC LIMIT 1) cm ON true
       WHERE st.kind IN ('presentment', 'representment', 'credit')
         AND l.card_id = c.id AND l.approval_code = st.approval
         AND l.msg_class = 'auth' AND l.response_code = '00' AND l.currency_txn = st.currency
         AND (st.txn_date IS NULL OR l.business_day BETWEEN st.txn_date - 7 AND st.txn_date + 7)
         AND (st.kind = 'credit') = (l.txn_type = 'refund')
         AND NOT EXISTS (SELECT 1 FROM clearing_records r
                          WHERE r.matched_auth_id = l.id AND r.outcome IN ('matched', 'late'))
       ORDER BY abs(l.amount_txn - st.amount), l.id LIMIT 1) m ON true;

  -- Two records of this file on one authorisation: the first (by record
  -- number) takes it, the others are posted without one.
  UPDATE clearing_work w SET auth_id = NULL, hold_id = NULL, hold_active = NULL
    FROM (SELECT seq, row_number() OVER (PARTITION BY auth_id ORDER BY seq) AS k
            FROM clearing_work WHERE auth_id IS NOT NULL) d
   WHERE w.seq = d.seq AND d.k > 1;

  -- B. The decision and the amounts, for every record but reversals.
  --    Fees of force posts from the product version, and their conversion
  --    at the rate, in force at the end of the file's business day.
  CREATE TEMP TABLE clearing_pv ON COMMIT DROP AS
  SELECT DISTINCT ON (product_id) * FROM product_versions
   WHERE effective_from < ((p_business_day + 1)::timestamp AT TIME ZONE s.business_tz)
   ORDER BY product_id, effective_from DESC;
  CREATE TEMP TABLE clearing_rates ON COMMIT DROP AS
  SELECT DISTINCT ON (from_currency, to_currency) from_currency, to_currency, rate FROM exchange_rates
   WHERE effective_from < ((p_business_day + 1)::timestamp AT TIME ZONE s.business_tz)
   ORDER BY from_currency, to_currency, effective_from DESC;
  CREATE TEMP TABLE clearing_plan ON COMMIT DROP AS
  WITH x AS (
    SELECT w.*, pv.fee_conversion_bp, pv.fee_foreign_cash_bp, pv.fee_foreign_cash_min, fr.rate AS force_rate,
           CASE
             WHEN w.kind IN ('chargeback', 'fee') THEN w.kind || '_for_review'
             WHEN w.kind IN ('presentment_reversal', 'credit_reversal') THEN NULL   -- part E
             WHEN w.card_id IS NULL THEN 'unknown_card'
             WHEN w.card_status = 'closed' THEN 'card_closed'
             WHEN w.arn_rank > 1 OR w.arn_seen THEN 'duplicate_arn'
             WHEN w.scur IS NULL THEN 'unsupported_currency'
             WHEN w.currency <> w.acur AND w.auth_rate IS NULL AND fr.rate IS NULL THEN 'no_exchange_rate'
             WHEN w.auth_id IS NOT NULL AND w.kind <> 'credit'
                  AND NOT clearing_within_tolerance(w.amount, w.auth_amount_txn, w.mcc, s.completion_tolerance_pct)
               THEN 'over_tolerance'
             WHEN w.auth_id IS NOT NULL AND w.kind = 'credit' THEN 'refund_credited_at_authorisation'
             WHEN w.auth_id IS NOT NULL AND w.hold_active THEN 'hold_released'
             WHEN w.auth_id IS NOT NULL THEN 'hold_expired_late_presentment'
             WHEN w.kind = 'credit' THEN 'credit'
             ELSE 'no_authorisation'
           END AS detail
      FROM clearing_work w
      LEFT JOIN clearing_pv pv ON pv.product_id = w.product_id
      LEFT JOIN clearing_rates fr ON fr.from_currency = w.currency AND fr.to_currency = w.acur
  ), o AS (
    SELECT x.*,
           CASE WHEN x.detail LIKE '%\_for\_review' THEN 'reported'
                WHEN x.detail IN ('refund_credited_at_authorisation', 'hold_released') THEN 'matched'
                WHEN x.detail = 'hold_expired_late_presentment' THEN 'late'
                WHEN x.detail IN ('credit', 'no_authorisation') THEN 'force'
                WHEN x.detail IS NOT NULL THEN 'exception' END AS outcome
      FROM x
  ), y AS (
    SELECT o.*,
           CASE WHEN o.outcome IN ('matched', 'late', 'force') THEN
             CASE WHEN o.currency = o.acur THEN o.amount
                  WHEN o.auth_rate IS NOT NULL THEN round(o.amount * o.auth_rate)::bigint
                  ELSE round(o.amount * o.force_rate)::bigint END END AS amount_acct
      FROM o
  )
  SELECT y.*,
         CASE WHEN y.outcome IN ('matched', 'late') AND y.kind <> 'credit' THEN y.auth_fee
              WHEN y.outcome = 'force' AND y.kind <> 'credit' AND y.proc LIKE '01%' THEN
                greatest(bp_of(y.amount_acct, y.fee_foreign_cash_bp),
                         usd_figure_in(y.fee_foreign_cash_min, y.acur, s.khr_per_usd_reference))
              ELSE 0 END AS fee,
         CASE WHEN y.amount_acct IS NULL OR y.currency = y.acur OR y.kind = 'credit' THEN 0
              WHEN y.outcome IN ('matched', 'late') THEN
                CASE WHEN y.auth_amount_acct > 0 THEN y.auth_conv * y.amount_acct / y.auth_amount_acct ELSE 0 END
              ELSE bp_of(y.amount_acct, y.fee_conversion_bp) END AS fee_conversion,
         -- A refund was credited when it was authorised: its clearing posts nothing.
         (y.outcome IN ('matched', 'late', 'force') AND NOT (y.kind = 'credit' AND y.auth_id IS NOT NULL)) AS posts
    FROM y WHERE y.outcome IS NOT NULL;

  ALTER TABLE clearing_plan ADD COLUMN entry_id bigint;
  UPDATE clearing_plan SET entry_id = nextval(pg_get_serial_sequence('journal_entries', 'id')) WHERE posts;

  -- C. Lock the cardholders' accounts in id order before their holds (the
  --    order authorise() and reverse() use), then release the holds.
  PERFORM 1 FROM accounts WHERE id IN (SELECT account_id FROM clearing_plan WHERE posts OR hold_id IS NOT NULL)
    ORDER BY id FOR NO KEY UPDATE;
  UPDATE holds h SET status = 'completed', closed_at = v_now
    FROM clearing_plan p WHERE h.id = p.hold_id AND p.outcome = 'matched' AND h.status = 'active';

  -- D. Post: one entry per record, balanced per currency. The cardholder's
  --    side in the account currency, the scheme's side in the settlement
  --    currency, through the FX position accounts when they differ.
  INSERT INTO journal_entries (id, business_day, kind, auth_id, description)
  SELECT entry_id, p_business_day, 'clearing_' || kind, auth_id,
         p_scheme || ' ' || p_file_id || ' record ' || seq || coalesce(' ARN ' || arn, '')
    FROM clearing_plan WHERE posts;
  -- The bank's own accounts per currency, looked up once (not per line).
  CREATE TEMP TABLE clearing_gl ON COMMIT DROP AS
  SELECT c.code AS currency, internal_account('fx_position', c.code) AS fx_position,
         internal_account('scheme_settlement', c.code) AS scheme, internal_account('fee_income', c.code) AS fee,
         internal_account('fx_income', c.code) AS fx_income
    FROM currencies c;
  INSERT INTO journal_lines (entry_id, account_id, currency, amount, line_kind)
  SELECT p.entry_id, l.account_id, l.currency, l.amount, l.line_kind
    FROM clearing_plan p
    JOIN clearing_gl ga ON ga.currency = p.acur
    JOIN clearing_gl gs ON gs.currency = p.scur,
         LATERAL (SELECT CASE WHEN p.kind = 'credit' THEN 1 ELSE -1 END AS sign) g,
         LATERAL (VALUES
           (p.account_id, p.acur, g.sign * p.amount_acct, 'principal'),
           (ga.fx_position, p.acur, -g.sign * p.amount_acct, 'fx'),
           (gs.fx_position, p.scur, g.sign * p.samt, 'fx'),
           (gs.scheme, p.scur, -g.sign * p.samt, 'principal'),
           (p.account_id, p.acur, -p.fee, 'fee'),
           (ga.fee, p.acur, p.fee, 'fee'),
           (p.account_id, p.acur, -p.fee_conversion, 'conversion_fee'),
           (ga.fx_income, p.acur, p.fee_conversion, 'conversion_fee')
         ) AS l(account_id, currency, amount, line_kind)
   WHERE p.posts AND l.amount <> 0
     AND (l.line_kind <> 'fx' OR p.acur <> p.scur OR p.amount_acct <> p.samt);

  INSERT INTO clearing_records (file_id, seq, byte_offset, kind, pan_hash, approval_code, amount, currency, txn_date,
      matched_auth_id, entry_id, outcome, mti, func, proc, pan_masked, arn, bill_amount, bill_currency,
      acquirer_id, terminal_id, merchant_id, merchant_name, merchant_city, merchant_country, mcc, reason_code,
      card_id, account_id, amount_acct, currency_acct, fee, fee_conversion, settle_amount, settle_currency, detail)
  SELECT f, seq, byte_offset, kind, pan_hash, nullif(approval, ''), amount, currency, txn_date,
      auth_id, entry_id, outcome, mti, func, proc, pan_masked, arn, bill_amount, bill_currency,
      acquirer_id, terminal_id, merchant_id, merchant_name, merchant_city, merchant_country, mcc, reason_code,
      card_id, account_id, amount_acct, acur, fee, fee_conversion,
      CASE WHEN kind = 'credit' THEN -samt ELSE samt END, scur, detail
    FROM clearing_plan;

  -- E. Reversals of presentments and credits, this file's included: the
  --    original record's entry undone line by line.
  CREATE TEMP TABLE clearing_rev ON COMMIT DROP AS
  SELECT w.*, o.id AS orig_id, o.entry_id AS orig_entry, o.settle_amount AS orig_settle, o.refunded
    FROM clearing_work w
    LEFT JOIN LATERAL (
      -- refunded: a terminal's reversal after clearing already gave the
      -- money back (reverse(), migration 018); undoing the entry again
      -- would pay twice.
      SELECT r.id, r.entry_id, r.settle_amount,
             EXISTS (SELECT 1 FROM auth_log l WHERE l.id = r.matched_auth_id AND l.reversed_amount > 0) AS refunded
        FROM clearing_records r JOIN clearing_files cf ON cf.id = r.file_id
       WHERE r.arn = w.arn AND r.entry_id IS NOT NULL AND cf.scheme = p_scheme
         AND r.kind = ANY (CASE w.kind WHEN 'credit_reversal' THEN ARRAY['credit']
                                       ELSE ARRAY['presentment', 'representment'] END)
         AND NOT EXISTS (SELECT 1 FROM clearing_records x WHERE x.reverses_record_id = r.id)
       ORDER BY r.id DESC LIMIT 1) o ON true
   WHERE w.kind IN ('presentment_reversal', 'credit_reversal');
  -- Two reversals of one original in this file: only the first undoes it.
  UPDATE clearing_rev v SET orig_id = NULL, orig_entry = NULL
    FROM (SELECT seq, row_number() OVER (PARTITION BY orig_id ORDER BY seq) AS k
            FROM clearing_rev WHERE orig_id IS NOT NULL) d
   WHERE v.seq = d.seq AND d.k > 1;
  ALTER TABLE clearing_rev ADD COLUMN entry_id bigint;
  UPDATE clearing_rev SET entry_id = nextval(pg_get_serial_sequence('journal_entries', 'id'))
   WHERE orig_entry IS NOT NULL AND NOT refunded;
  INSERT INTO journal_entries (id, business_day, kind, auth_id, reverses_entry_id, description)
  SELECT v.entry_id, p_business_day, 'clearing_' || v.kind, e.auth_id, v.orig_entry,
         p_scheme || ' ' || p_file_id || ' record ' || v.seq || coalesce(' ARN ' || v.arn, '')
    FROM clearing_rev v JOIN journal_entries e ON e.id = v.orig_entry WHERE v.entry_id IS NOT NULL;
  INSERT INTO journal_lines (entry_id, account_id, currency, amount, line_kind)
  SELECT v.entry_id, l.account_id, l.currency, -l.amount, l.line_kind
    FROM clearing_rev v JOIN journal_lines l ON l.entry_id = v.orig_entry
   WHERE v.entry_id IS NOT NULL;
  INSERT INTO clearing_records (file_id, seq, byte_offset, kind, pan_hash, approval_code, amount, currency, txn_date,
      entry_id, outcome, mti, func, proc, pan_masked, arn, bill_amount, bill_currency, acquirer_id, terminal_id,
      merchant_id, merchant_name, merchant_city, merchant_country, mcc, reason_code, card_id, account_id,
      currency_acct, settle_amount, settle_currency, reverses_record_id, detail)
  SELECT f, seq, byte_offset, kind, pan_hash, nullif(approval, ''), amount, currency, txn_date,
      entry_id, CASE WHEN entry_id IS NULL THEN 'exception' ELSE 'reversed' END, mti, func, proc, pan_masked, arn,
      bill_amount, bill_currency, acquirer_id, terminal_id, merchant_id, merchant_name, merchant_city,
      merchant_country, mcc, reason_code, card_id, account_id, acur,
      CASE WHEN entry_id IS NULL THEN NULL ELSE -orig_settle END, scur, orig_id,
      CASE WHEN entry_id IS NOT NULL THEN 'reversal_of_record'
           WHEN refunded THEN 'refunded_by_terminal_reversal' ELSE 'original_not_found' END
    FROM clearing_rev;

  INSERT INTO clearing_exceptions (record_id, reason)
  SELECT id, detail FROM clearing_records WHERE file_id = f AND outcome = 'exception';
  RETURN f;
END $$;

-- 4. Exceptions. An operator either posts the record to an account (the
--    card's own account once the card is found, or another one) or writes
--    it off to the bank's loss account; either way the scheme side is
--    booked, one entry, and the exception is closed and audit-logged.
--    A record that matched a live hold (over tolerance) releases it.
CREATE FUNCTION clearing_exception_resolve(p_exception bigint, p_account text, p_write_off boolean,
                                           p_note text DEFAULT NULL, p_operator text DEFAULT session_user)
RETURNS bigint LANGUAGE plpgsql AS $$
DECLARE
  x  clearing_exceptions;
  r  clearing_records;
  a  accounts;
  v_entry bigint;
  v_sign integer;
  v_amt bigint;
  v_rate numeric;
BEGIN
  SELECT * INTO x FROM clearing_exceptions WHERE id = p_exception FOR UPDATE;
  IF NOT FOUND THEN
    RAISE EXCEPTION 'no clearing exception %', p_exception USING ERRCODE = 'no_data_found';
  END IF;
  IF x.resolved_at IS NOT NULL THEN
    RAISE EXCEPTION 'clearing exception % was resolved at %', p_exception, x.resolved_at
      USING ERRCODE = 'object_not_in_prerequisite_state';
  END IF;
  SELECT * INTO r FROM clearing_records WHERE id = x.record_id;
  IF r.settle_currency IS NULL THEN
    RAISE EXCEPTION 'clearing exception %: the record is in currency %, which the bank does not settle in',
      p_exception, r.currency USING ERRCODE = 'check_violation';
  END IF;
  IF r.kind IN ('presentment_reversal', 'credit_reversal') THEN
    -- Nothing was posted for the original here: closing it books nothing.
    UPDATE clearing_exceptions SET resolved_at = now(), resolved_by = p_operator,
           resolution = 'closed without posting: ' || coalesce(p_note, 'reversal of an unknown record')
     WHERE id = x.id;
    INSERT INTO audit_log (operator, action, object, details)
      VALUES (p_operator, 'clearing_exception_close', 'clearing_exception:' || x.id, jsonb_build_object('note', p_note));
    RETURN NULL;
  END IF;
  v_sign := CASE WHEN r.kind = 'credit' THEN 1 ELSE -1 END;
  INSERT INTO journal_entries (business_day, kind, auth_id, description)
    VALUES ((SELECT business_day FROM clearing_files WHERE id = r.file_id),
            CASE WHEN p_write_off THEN 'clearing_write_off' ELSE 'clearing_exception' END, r.matched_auth_id,
            'clearing exception ' || x.id || ' (' || x.reason || ')' || coalesce(': ' || p_note, ''))
    RETURNING id INTO v_entry;
  IF p_write_off THEN
    PERFORM post_transfer(v_entry, internal_account('clearing_writeoff', r.settle_currency), r.settle_currency,
                          v_sign * abs(r.settle_amount),
                          internal_account('scheme_settlement', r.settle_currency), r.settle_currency,
                          -v_sign * abs(r.settle_amount));
  ELSE
    SELECT * INTO a FROM accounts
     WHERE kind <> 'internal' AND (number = p_account OR (p_account ~ '^[0-9]{1,18}$' AND id = p_account::bigint))
     FOR NO KEY UPDATE;
    IF NOT FOUND THEN
      RAISE EXCEPTION 'no customer account %', p_account USING ERRCODE = 'no_data_found';
    END IF;
    IF a.currency = r.settle_currency THEN
      v_amt := abs(r.settle_amount);
    ELSE
      SELECT rate INTO v_rate FROM exchange_rates
       WHERE from_currency = r.settle_currency AND to_currency = a.currency AND effective_from <= now()
       ORDER BY effective_from DESC LIMIT 1;
      IF NOT FOUND THEN
        RAISE EXCEPTION 'no exchange rate from % to %', r.settle_currency, a.currency USING ERRCODE = 'no_data_found';
      END IF;
      v_amt := round(abs(r.settle_amount) * v_rate)::bigint;
    END IF;
    PERFORM post_transfer(v_entry, a.id, a.currency, v_sign * v_amt,
                          internal_account('scheme_settlement', r.settle_currency), r.settle_currency,
                          -v_sign * abs(r.settle_amount));
    UPDATE holds SET status = 'completed', closed_at = now()
     WHERE id = (SELECT hold_id FROM auth_log WHERE id = r.matched_auth_id) AND status = 'active'
       AND account_id = a.id;
  END IF;
  UPDATE clearing_exceptions SET resolved_at = now(), resolved_by = p_operator, entry_id = v_entry,
         resolution = CASE WHEN p_write_off THEN 'written off' ELSE 'posted to account ' || a.number END
                      || coalesce(': ' || p_note, '')
   WHERE id = x.id;
  INSERT INTO audit_log (operator, action, object, details)
    VALUES (p_operator, CASE WHEN p_write_off THEN 'clearing_exception_write_off' ELSE 'clearing_exception_resolve' END,
            'clearing_exception:' || x.id,
            jsonb_build_object('entry_id', v_entry, 'account', a.number, 'note', p_note));
  RETURN v_entry;
END $$;

-- 5. Reconciliation per scheme, business day and settlement currency:
--    counts and amounts by kind, outcomes, and the net the bank owes the
--    scheme for what it posted (positive: the bank pays). Exceptions are
--    counted apart: owed to the scheme too, not yet charged to anyone.
CREATE VIEW clearing_reconciliation AS
SELECT f.scheme, f.business_day, r.settle_currency AS currency,
       count(DISTINCT f.id) AS files,
       count(*) AS records,
       count(*) FILTER (WHERE r.kind IN ('presentment', 'representment')) AS presentments,
       coalesce(sum(r.settle_amount) FILTER (WHERE r.kind IN ('presentment', 'representment')), 0) AS presentment_amount,
       count(*) FILTER (WHERE r.kind = 'credit') AS credits,
       coalesce(-sum(r.settle_amount) FILTER (WHERE r.kind = 'credit'), 0) AS credit_amount,
       count(*) FILTER (WHERE r.kind IN ('presentment_reversal', 'credit_reversal')) AS reversals,
       count(*) FILTER (WHERE r.kind = 'fee') AS fees,
       coalesce(sum(r.amount) FILTER (WHERE r.kind = 'fee'), 0) AS fee_amount,
       count(*) FILTER (WHERE r.kind = 'chargeback') AS chargebacks,
       coalesce(sum(r.amount) FILTER (WHERE r.kind = 'chargeback'), 0) AS chargeback_amount,
       count(*) FILTER (WHERE r.outcome = 'matched') AS matched,
       count(*) FILTER (WHERE r.outcome = 'late') AS late,
       count(*) FILTER (WHERE r.outcome = 'force') AS force,
       count(*) FILTER (WHERE r.outcome = 'exception') AS exceptions,
       coalesce(sum(r.settle_amount) FILTER (WHERE r.outcome = 'exception'), 0) AS exception_amount,
       coalesce(sum(r.settle_amount) FILTER (WHERE r.outcome IN ('matched', 'late', 'force', 'reversed')), 0)
         AS net_settlement
  FROM clearing_files f JOIN clearing_records r ON r.file_id = f.id
 GROUP BY f.scheme, f.business_day, r.settle_currency;
