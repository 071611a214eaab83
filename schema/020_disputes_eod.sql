-- Disputes and error claims, and the end-of-day batch (issue 11).
--
-- Parts:
--   1. settings and the bank's two new internal accounts
--   2. disputes: more columns, a status history, the amount still creditable
--   3. dispute_open(), dispute_review(), dispute_resolve()
--   4. end of day: eod_runs, annual fees, the clearing check, eod_step()
--
-- PRODUCTS.md: error claims are reviewed within 30 days and resolved within
-- 90; disputes must be raised within 15 days of the transaction. The terms
-- give no review or resolution deadline for disputes: the error claims'
-- 30 / 90 days apply to them too. All three are bank settings.

-- 1. Settings. eod_clearing_schemes: the schemes whose clearing file the
--    end of day expects every business day (those switchctl can read).
ALTER TABLE bank_settings
  ADD COLUMN dispute_raise_days integer NOT NULL DEFAULT 15 CHECK (dispute_raise_days > 0),
  ADD COLUMN claim_review_days  integer NOT NULL DEFAULT 30 CHECK (claim_review_days > 0),
  ADD COLUMN claim_resolve_days integer NOT NULL DEFAULT 90,
  ADD COLUMN eod_clearing_schemes card_scheme[] NOT NULL DEFAULT '{mastercard,visa}',
  ADD CONSTRAINT bank_settings_claim_days CHECK (claim_resolve_days >= claim_review_days);

-- A credit the bank gives a cardholder on an accepted dispute comes from
-- chargeback_receivable when a chargeback is raised (the scheme is to pay it
-- back: an asset, so its balance goes negative, like an ATM's cash) and
-- from dispute_loss when the bank bears it (its own error, or nobody to
-- charge back).
INSERT INTO accounts (number, kind, currency, purpose)
SELECT 'GL-' || upper(p) || '-' || c.alpha, 'internal', c.code, p
  FROM unnest(ARRAY['chargeback_receivable', 'dispute_loss']) AS p, currencies c;

-- An amount as the operator reads it: 'USD 12.50' (the currency's
-- exponent, no thousands separators; '---' for no currency).
CREATE FUNCTION ops_money_text(p_amount bigint, p_currency smallint) RETURNS text
LANGUAGE sql STABLE AS $$
  SELECT coalesce(c.alpha::text, p_currency::text, '---') || ' ' || CASE WHEN p_amount < 0 THEN '-' ELSE '' END
         || CASE WHEN coalesce(c.exponent, 0) = 0 THEN abs(p_amount)::text
                 ELSE (abs(p_amount) / (10 ^ c.exponent)::bigint)::text || '.'
                      || lpad((abs(p_amount) % (10 ^ c.exponent)::bigint)::text, c.exponent, '0') END
    FROM (SELECT 1) one LEFT JOIN currencies c ON c.code = p_currency
$$;

-- 2. Disputes. A dispute or error claim is on one approved card
--    transaction (the auth_log row of the authorisation; the foreign key
--    keeps that row as long as the dispute). One open at a time per
--    transaction; after a resolution another may be opened, and the credits
--    of all of them together never exceed what the transaction took.
--    Retention (PRODUCTS.md, Records): an error-correction request is kept
--    1 year from its resolution ('correction'); one that credited the
--    account is the record of a transaction on it, 5 years ('txn').
ALTER TABLE disputes
  ADD COLUMN opened_by       text NOT NULL DEFAULT session_user,
  ADD COLUMN reviewed_at     timestamptz,
  ADD COLUMN resolved_by     text,
  ADD COLUMN resolution      text,             -- the operator's reason
  ADD COLUMN credit_amount   bigint NOT NULL DEFAULT 0 CHECK (credit_amount >= 0),
  ADD COLUMN credit_currency smallint REFERENCES currencies,
  ADD COLUMN chargeback      boolean NOT NULL DEFAULT false,   -- to be raised against the scheme
  ADD CONSTRAINT disputes_resolved CHECK ((status IN ('accepted', 'rejected', 'closed')) = (resolved_at IS NOT NULL)),
  ADD CONSTRAINT disputes_credit CHECK (credit_amount = 0 OR (entry_id IS NOT NULL AND credit_currency IS NOT NULL)),
  ADD CONSTRAINT disputes_rejected CHECK (status <> 'rejected' OR (credit_amount = 0 AND NOT chargeback));
CREATE UNIQUE INDEX disputes_one_open ON disputes (auth_id) WHERE status IN ('open', 'reviewing');
CREATE INDEX disputes_unresolved ON disputes (resolve_by) WHERE status IN ('open', 'reviewing');
CREATE INDEX disputes_card ON disputes (card_id);

-- Every change of a dispute's status, who made it and why; append-only.
CREATE TABLE dispute_events (
  id         bigserial PRIMARY KEY,
  dispute_id bigint NOT NULL REFERENCES disputes,
  at         timestamptz NOT NULL DEFAULT clock_timestamp(),
  status     text NOT NULL,
  operator   text NOT NULL,
  note       text
);
CREATE INDEX dispute_events_dispute ON dispute_events (dispute_id, id);
CREATE TRIGGER dispute_events_immutable BEFORE UPDATE OR DELETE ON dispute_events
  FOR EACH ROW EXECUTE FUNCTION ledger_immutable();

-- Which deadline an unresolved dispute has missed at p_now, or NULL.
CREATE FUNCTION dispute_overdue(p_status text, p_review_by timestamptz, p_resolve_by timestamptz,
                                p_now timestamptz) RETURNS text
LANGUAGE sql IMMUTABLE AS $$
  SELECT CASE WHEN p_status NOT IN ('open', 'reviewing') THEN NULL
              WHEN p_now > p_resolve_by THEN 'resolution overdue'
              WHEN p_status = 'open' AND p_now > p_review_by THEN 'review overdue' END
$$;

-- What transaction p_auth can still be credited, account currency: what it
-- took (amount, fees and conversion fee: the largest of the authorisation,
-- its completion, and the clearing presentments posted for it and not
-- reversed, so a tip presented above the authorisation counts), less what
-- the terminal's reversals gave back and what earlier disputes credited.
CREATE FUNCTION dispute_creditable(p_auth bigint) RETURNS bigint
LANGUAGE sql STABLE AS $$
  SELECT greatest(o.amount_acct + o.fee + o.fee_conversion,
                  (SELECT max(c.amount_acct + c.fee + c.fee_conversion) FROM auth_log c
                    WHERE c.original_auth_id = o.id AND c.msg_class = 'completion' AND c.response_code = '00'),
                  (SELECT sum(r.amount_acct + r.fee + r.fee_conversion) FROM clearing_records r
                    WHERE r.matched_auth_id = o.id AND r.kind = 'presentment' AND r.outcome IN ('matched', 'late')
                      AND NOT EXISTS (SELECT 1 FROM clearing_records x WHERE x.reverses_record_id = r.id)))
         - (SELECT coalesce(sum(x.amount_acct + x.fee + x.fee_conversion), 0) FROM auth_log x
             WHERE x.original_auth_id = o.id AND x.msg_class = 'reversal' AND x.response_code = '00')
         - (SELECT coalesce(sum(d.credit_amount), 0) FROM disputes d WHERE d.auth_id = o.id)
    FROM auth_log o WHERE o.id = p_auth
$$;

-- The transaction an operator names by card and RRN (DE 37) or approval
-- code (DE 38): exactly one approved authorisation of the card (its
-- completion and reversals share the codes and are not counted).
CREATE FUNCTION dispute_find_auth(p_card bigint, p_rrn text, p_approval text) RETURNS bigint
LANGUAGE plpgsql STABLE AS $$
DECLARE v_ids bigint[];
BEGIN
  IF NOT EXISTS (SELECT 1 FROM cards WHERE id = p_card) THEN
    RAISE EXCEPTION 'no card %', p_card USING ERRCODE = 'no_data_found';
  END IF;
  SELECT array_agg(id ORDER BY id) INTO v_ids FROM auth_log
   WHERE card_id = p_card AND msg_class = 'auth' AND response_code = '00'
     AND (p_rrn IS NULL OR rrn = p_rrn) AND (p_approval IS NULL OR approval_code = p_approval);
  IF v_ids IS NULL THEN
    RAISE EXCEPTION 'card %: no approved transaction with %', p_card,
      coalesce('RRN ' || p_rrn, 'approval code ' || p_approval) USING ERRCODE = 'no_data_found';
  END IF;
  IF cardinality(v_ids) > 1 THEN
    RAISE EXCEPTION 'card %: % approved transactions with %: name one by its id (%)', p_card, cardinality(v_ids),
      coalesce('RRN ' || p_rrn, 'approval code ' || p_approval), array_to_string(v_ids, ', ')
      USING ERRCODE = 'cardinality_violation';
  END IF;
  RETURN v_ids[1];
END $$;

-- 3. Open. p_auth is the auth_log id of the transaction (a completion
--    stands for its pre-authorisation). Refused, one line each: no such
--    transaction, not a card purchase/cash/inquiry, declined, a refund, a
--    dispute raised after dispute_raise_days (counted in calendar days of
--    the bank's time zone: raised on the 15th day after is in time), one
--    already open. Returns the dispute's id; audit-logged.
CREATE FUNCTION dispute_open(p_auth bigint, p_kind text, p_reason text, p_operator text DEFAULT session_user)
RETURNS bigint LANGUAGE plpgsql AS $$
DECLARE
  s  bank_settings;
  o  auth_log;
  v_now timestamptz := clock_timestamp();
  v_age integer;
  v_id bigint;
  v_other bigint;
BEGIN
  SELECT * INTO s FROM bank_settings;
  IF p_kind IS NULL OR p_kind NOT IN ('dispute', 'error_claim') THEN
    RAISE EXCEPTION 'kind must be dispute or error_claim, not %', p_kind USING ERRCODE = 'check_violation';
  END IF;
  IF coalesce(btrim(p_reason), '') = '' THEN
    RAISE EXCEPTION 'a % needs the customer''s reason', replace(p_kind, '_', ' ') USING ERRCODE = 'check_violation';
  END IF;
  SELECT * INTO o FROM auth_log WHERE id = p_auth;
  IF FOUND AND o.msg_class = 'completion' THEN
    SELECT * INTO o FROM auth_log WHERE id = o.original_auth_id;
  END IF;
  IF o.id IS NULL THEN
    RAISE EXCEPTION 'no transaction % in the authorisation log', p_auth USING ERRCODE = 'no_data_found';
  END IF;
  IF o.msg_class <> 'auth' OR o.card_id IS NULL THEN
    RAISE EXCEPTION 'transaction % is a % message, not a card transaction: name the transaction it concerns',
      o.id, o.txn_type USING ERRCODE = 'check_violation';
  END IF;
  IF o.response_code <> '00' THEN
    RAISE EXCEPTION 'transaction % was declined (%, %): nothing was charged', o.id, o.response_code, o.rule
      USING ERRCODE = 'check_violation';
  END IF;
  IF o.txn_type = 'refund' THEN
    RAISE EXCEPTION 'transaction % is a refund: it credited the account', o.id USING ERRCODE = 'check_violation';
  END IF;
  v_age := (v_now AT TIME ZONE s.business_tz)::date - (o.created_at AT TIME ZONE s.business_tz)::date;
  IF p_kind = 'dispute' AND v_age > s.dispute_raise_days THEN
    RAISE EXCEPTION 'dispute refused: transaction % of % is % days old; disputes must be raised within % days of the transaction (last day was %)',
      o.id, (o.created_at AT TIME ZONE s.business_tz)::date, v_age, s.dispute_raise_days,
      (o.created_at AT TIME ZONE s.business_tz)::date + s.dispute_raise_days
      USING ERRCODE = 'check_violation';
  END IF;
  -- One open per transaction: the unique index decides between two
  -- operators at once; this gives the first one's id to the second.
  SELECT id INTO v_other FROM disputes WHERE auth_id = o.id AND status IN ('open', 'reviewing');
  IF FOUND THEN
    RAISE EXCEPTION 'transaction % already has an open dispute (%): resolve it first', o.id, v_other
      USING ERRCODE = 'unique_violation';
  END IF;
  INSERT INTO disputes (auth_id, card_id, kind, reason, opened_at, review_by, resolve_by, opened_by)
    VALUES (o.id, o.card_id, p_kind, p_reason, v_now, v_now + make_interval(days => s.claim_review_days),
            v_now + make_interval(days => s.claim_resolve_days), p_operator)
    RETURNING id INTO v_id;
  INSERT INTO dispute_events (dispute_id, at, status, operator, note) VALUES (v_id, v_now, 'open', p_operator, p_reason);
  INSERT INTO audit_log (operator, action, object, details)
    VALUES (p_operator, 'dispute_open', 'dispute:' || v_id,
            jsonb_build_object('kind', p_kind, 'auth_id', o.id, 'card_id', o.card_id, 'reason', p_reason,
                               'days_after_transaction', v_age));
  RETURN v_id;
END $$;

-- The dispute row, locked; refused when it does not exist or is resolved.
CREATE FUNCTION dispute_lock_unresolved(p_id bigint) RETURNS disputes
LANGUAGE plpgsql AS $$
DECLARE d disputes;
BEGIN
  SELECT * INTO d FROM disputes WHERE id = p_id FOR UPDATE;
  IF NOT FOUND THEN
    RAISE EXCEPTION 'no dispute %', p_id USING ERRCODE = 'no_data_found';
  END IF;
  IF d.resolved_at IS NOT NULL THEN
    RAISE EXCEPTION 'dispute % was resolved (%) at % by %: a resolution is final', p_id, d.status,
      to_char(d.resolved_at AT TIME ZONE (SELECT business_tz FROM bank_settings), 'YYYY-MM-DD HH24:MI'), d.resolved_by
      USING ERRCODE = 'object_not_in_prerequisite_state';
  END IF;
  RETURN d;
END $$;

-- Review started (the 30-day deadline is met from then on). Audit-logged.
CREATE FUNCTION dispute_review(p_id bigint, p_note text DEFAULT NULL, p_operator text DEFAULT session_user)
RETURNS void LANGUAGE plpgsql AS $$
DECLARE d disputes; v_now timestamptz := clock_timestamp();
BEGIN
  d := dispute_lock_unresolved(p_id);
  IF d.status = 'reviewing' THEN
    RAISE EXCEPTION 'dispute % is under review since %', p_id,
      to_char(d.reviewed_at AT TIME ZONE (SELECT business_tz FROM bank_settings), 'YYYY-MM-DD HH24:MI')
      USING ERRCODE = 'object_not_in_prerequisite_state';
  END IF;
  UPDATE disputes SET status = 'reviewing', reviewed_at = v_now WHERE id = p_id;
  INSERT INTO dispute_events (dispute_id, at, status, operator, note) VALUES (p_id, v_now, 'reviewing', p_operator, p_note);
  INSERT INTO audit_log (operator, action, object, details)
    VALUES (p_operator, 'dispute_review', 'dispute:' || p_id,
            jsonb_build_object('note', p_note, 'late', v_now > d.review_by));
END $$;

-- Resolve: accepted (optionally crediting the cardholder, at most what the
-- transaction can still be credited, and marking a chargeback to raise
-- against the scheme) or rejected (nothing else). One transaction: the
-- credit's journal entry, the dispute, its history and audit_log. A
-- resolved dispute cannot be resolved again. Returns the entry id (NULL
-- without a credit).
CREATE FUNCTION dispute_resolve(p_id bigint, p_accept boolean, p_reason text, p_credit bigint DEFAULT 0,
                                p_chargeback boolean DEFAULT false, p_operator text DEFAULT session_user)
RETURNS bigint LANGUAGE plpgsql AS $$
DECLARE
  d  disputes;
  o  auth_log;
  a  accounts;
  v_now timestamptz := clock_timestamp();
  v_max bigint;
  v_entry bigint;
  v_status text := CASE WHEN p_accept THEN 'accepted' ELSE 'rejected' END;
BEGIN
  d := dispute_lock_unresolved(p_id);
  IF coalesce(btrim(p_reason), '') = '' THEN
    RAISE EXCEPTION 'a resolution needs a reason' USING ERRCODE = 'check_violation';
  END IF;
  IF p_credit IS NULL OR p_credit < 0 THEN
    RAISE EXCEPTION 'the credit must be 0 or more' USING ERRCODE = 'check_violation';
  END IF;
  IF NOT p_accept AND (p_credit > 0 OR p_chargeback) THEN
    RAISE EXCEPTION 'a rejected % credits nothing and raises no chargeback', replace(d.kind, '_', ' ')
      USING ERRCODE = 'check_violation';
  END IF;
  SELECT * INTO o FROM auth_log WHERE id = d.auth_id;
  IF p_chargeback AND o.own_terminal THEN
    RAISE EXCEPTION 'transaction % was at the bank''s own terminal %: there is no scheme to charge back',
      o.id, o.terminal_id USING ERRCODE = 'check_violation';
  END IF;
  IF p_credit > 0 THEN
    SELECT * INTO a FROM accounts WHERE id = o.account_id FOR NO KEY UPDATE;
    IF a.status = 'closed' THEN
      RAISE EXCEPTION 'account % is closed: the credit cannot be posted to it', a.number
        USING ERRCODE = 'check_violation';
    END IF;
    v_max := dispute_creditable(o.id);
    IF p_credit > v_max THEN
      RAISE EXCEPTION 'credit % exceeds what transaction % can still be credited: %', ops_money_text(p_credit, a.currency),
        o.id, ops_money_text(greatest(v_max, 0), a.currency) USING ERRCODE = 'check_violation';
    END IF;
    INSERT INTO journal_entries (business_day, kind, auth_id, description)
      VALUES ((v_now AT TIME ZONE (SELECT business_tz FROM bank_settings))::date, 'dispute_credit', o.id,
              replace(d.kind, '_', ' ') || ' ' || d.id || ': ' || p_reason)
      RETURNING id INTO v_entry;
    PERFORM post_transfer(v_entry, a.id, a.currency, p_credit,
                          internal_account(CASE WHEN p_chargeback THEN 'chargeback_receivable' ELSE 'dispute_loss' END,
                                           a.currency),
                          a.currency, -p_credit);
  END IF;
  UPDATE disputes SET status = v_status, resolved_at = v_now, resolved_by = p_operator, resolution = p_reason,
         credit_amount = p_credit, credit_currency = CASE WHEN p_credit > 0 THEN a.currency END,
         chargeback = p_chargeback, entry_id = v_entry,
         retention_class = CASE WHEN p_credit > 0 THEN 'txn' ELSE 'correction' END
   WHERE id = p_id;
  INSERT INTO dispute_events (dispute_id, at, status, operator, note) VALUES (p_id, v_now, v_status, p_operator, p_reason);
  INSERT INTO audit_log (operator, action, object, details)
    VALUES (p_operator, 'dispute_resolve', 'dispute:' || p_id,
            jsonb_build_object('status', v_status, 'reason', p_reason, 'credit', p_credit,
                               'currency', CASE WHEN p_credit > 0 THEN a.currency END, 'chargeback', p_chargeback,
                               'entry_id', v_entry, 'auth_id', o.id, 'late', v_now > d.resolve_by));
  RETURN v_entry;
END $$;

-- A dispute with its transaction, card, deadlines and retention, for
-- switchctl dispute show / list. keep_until: NULL while unresolved (the
-- retention counts from the resolution).
CREATE VIEW dispute_overview AS
SELECT d.id, d.kind, d.status, d.auth_id, d.card_id, c.pan_masked, p.scheme, acc.number AS account_number,
       o.txn_type, o.amount_txn, o.currency_txn, o.amount_acct + o.fee + o.fee_conversion AS charged,
       o.currency_acct, o.created_at AS txn_at, o.terminal_id, o.merchant_id, o.rrn, o.approval_code,
       o.own_terminal, d.reason, d.opened_at, d.opened_by, d.review_by, d.resolve_by, d.reviewed_at,
       d.resolved_at, d.resolved_by, d.resolution, d.credit_amount, d.credit_currency, d.chargeback, d.entry_id,
       d.retention_class, rc.keep, d.resolved_at + rc.keep AS keep_until
  FROM disputes d
  JOIN auth_log o ON o.id = d.auth_id
  JOIN cards c ON c.id = d.card_id
  JOIN products p ON p.id = c.product_id
  LEFT JOIN accounts acc ON acc.id = o.account_id
  JOIN retention_classes rc ON rc.code = d.retention_class;

-- 4. End of day. `switchctl eod --date D` runs eod_step(D, step) for each
--    step of eod_steps() in order, each in its own transaction with its
--    eod_runs row and audit_log row: a step that ran is never run again for
--    that day (its recorded result is returned instead), a failed step
--    leaves nothing and the next run resumes there. The jobs run as of the
--    last instant of D in the bank's time zone, and only once D has ended.
CREATE TABLE eod_runs (
  business_day date NOT NULL,
  step         text NOT NULL,
  result       text NOT NULL,                 -- the line switchctl prints
  attention    boolean NOT NULL DEFAULT false,   -- something for the operator to look at
  details      jsonb,
  at           timestamptz NOT NULL DEFAULT clock_timestamp(),
  operator     text NOT NULL,
  PRIMARY KEY (business_day, step)
);
CREATE TRIGGER eod_runs_immutable BEFORE UPDATE OR DELETE ON eod_runs
  FOR EACH ROW EXECUTE FUNCTION ledger_immutable();

CREATE FUNCTION eod_steps() RETURNS text[] LANGUAGE sql IMMUTABLE AS
$$ SELECT ARRAY['holds', 'vouchers', 'annual_fees', 'clearing'] $$;

-- The last microsecond of business day p_day.
CREATE FUNCTION eod_cutoff(p_day date) RETURNS timestamptz LANGUAGE sql STABLE AS
$$ SELECT ((p_day + 1)::timestamp AT TIME ZONE (SELECT business_tz FROM bank_settings)) - interval '1 microsecond' $$;

-- Annual fees. The annual fee is the card's yearly maintenance, charged in
-- advance for the card year: on the day the card is issued and on each
-- anniversary of that day (a card issued on 29 February: on 28 February in
-- other years), to every card in use (not closed, expired, lost or stolen,
-- not past its expiry date), primary or supplementary, on the card's
-- account, at the fee of the product version in force that day, in USD or
-- at the reference rate in KHR. The bank never takes an account below its
-- available balance (PRODUCTS.md: nothing beyond it), so a fee is collected
-- as far as the available balance allows; the rest stays owed and every
-- later end of day collects it first, as the money arrives. A card is
-- charged once per anniversary (unique key); collections are recorded per
-- business day.
CREATE TABLE annual_fee_charges (
  id          bigserial PRIMARY KEY,
  card_id     bigint   NOT NULL REFERENCES cards,
  account_id  bigint   NOT NULL REFERENCES accounts,
  due_date    date     NOT NULL,
  product_version_id integer NOT NULL REFERENCES product_versions,
  currency    smallint NOT NULL REFERENCES currencies,
  amount      bigint   NOT NULL CHECK (amount > 0),
  collected   bigint   NOT NULL DEFAULT 0,
  created_at  timestamptz NOT NULL DEFAULT now(),
  paid_at     timestamptz,
  CHECK (collected >= 0 AND collected <= amount),
  CHECK ((paid_at IS NOT NULL) = (collected = amount)),
  UNIQUE (card_id, due_date)
);
CREATE INDEX annual_fee_charges_owed ON annual_fee_charges (account_id, due_date) WHERE paid_at IS NULL;

CREATE TABLE annual_fee_collections (
  id           bigserial PRIMARY KEY,
  charge_id    bigint NOT NULL REFERENCES annual_fee_charges,
  business_day date   NOT NULL,
  amount       bigint NOT NULL CHECK (amount > 0),
  entry_id     bigint NOT NULL REFERENCES journal_entries,
  UNIQUE (charge_id, business_day)
);

-- Amounts per currency as text: 'USD 25.00, KHR 20000.00' ('none' for no rows).
CREATE FUNCTION ops_amounts_text(p_amounts bigint[], p_currencies smallint[]) RETURNS text
LANGUAGE sql STABLE AS $$
  SELECT coalesce(string_agg(ops_money_text(s, c), ', ' ORDER BY c DESC), 'none')
    FROM (SELECT c, sum(a)::bigint AS s FROM unnest(p_amounts, p_currencies) AS u(a, c) GROUP BY c) x
$$;

CREATE FUNCTION eod_annual_fees(p_day date, OUT result text, OUT attention boolean, OUT details jsonb)
LANGUAGE plpgsql AS $$
DECLARE
  s  bank_settings;
  acct accounts;
  ch annual_fee_charges;
  v_cutoff timestamptz := eod_cutoff(p_day);
  v_due integer;
  v_take bigint;
  v_entry bigint;
  v_got bigint[] := '{}';
  v_got_cur smallint[] := '{}';
  v_owed bigint[];
  v_owed_cur smallint[];
  v_owed_n integer;
BEGIN
  SELECT * INTO s FROM bank_settings;
  INSERT INTO annual_fee_charges (card_id, account_id, due_date, product_version_id, currency, amount)
  SELECT c.id, c.account_id, p_day, pv.id, a.currency, usd_figure_in(pv.annual_fee, a.currency, s.khr_per_usd_reference)
    FROM cards c
    JOIN accounts a ON a.id = c.account_id
    CROSS JOIN LATERAL (SELECT (c.issued_at AT TIME ZONE s.business_tz)::date AS issued) i
    CROSS JOIN LATERAL (SELECT v.id, v.annual_fee FROM product_versions v
                         WHERE v.product_id = c.product_id AND v.effective_from <= v_cutoff
                         ORDER BY v.effective_from DESC LIMIT 1) pv
   WHERE c.status NOT IN ('closed', 'expired', 'lost', 'stolen') AND c.expiry >= p_day AND a.status <> 'closed'
     AND i.issued <= p_day
     AND (i.issued + make_interval(years => (extract(year FROM p_day) - extract(year FROM i.issued))::integer))::date = p_day
     AND pv.annual_fee > 0
  ON CONFLICT (card_id, due_date) DO NOTHING;
  GET DIAGNOSTICS v_due = ROW_COUNT;

  -- Collect what is owed, oldest first. The accounts are locked first, in
  -- id order, before anything is posted: the ledger's global order is
  -- customer accounts before the bank's (fee income), as the switch does.
  PERFORM 1 FROM accounts WHERE id IN (SELECT account_id FROM annual_fee_charges
                                        WHERE paid_at IS NULL AND due_date <= p_day)
    ORDER BY id FOR NO KEY UPDATE;
  FOR ch IN SELECT * FROM annual_fee_charges WHERE paid_at IS NULL AND due_date <= p_day
             ORDER BY account_id, due_date, id LOOP
    SELECT * INTO acct FROM accounts WHERE id = ch.account_id;
    CONTINUE WHEN acct.status NOT IN ('active', 'dormant');
    v_take := least(ch.amount - ch.collected, greatest(account_available(acct), 0));
    CONTINUE WHEN v_take = 0;
    INSERT INTO journal_entries (business_day, kind, description)
      VALUES (p_day, 'annual_fee', 'annual fee, card ' || ch.card_id || ', due ' || ch.due_date
                                   || CASE WHEN v_take < ch.amount - ch.collected THEN ' (part)' ELSE '' END)
      RETURNING id INTO v_entry;
    PERFORM post_transfer(v_entry, acct.id, acct.currency, -v_take, internal_account('fee_income', acct.currency),
                          acct.currency, v_take, 'fee');
    INSERT INTO annual_fee_collections (charge_id, business_day, amount, entry_id)
      VALUES (ch.id, p_day, v_take, v_entry);
    UPDATE annual_fee_charges SET collected = collected + v_take,
           paid_at = CASE WHEN collected + v_take = amount THEN clock_timestamp() END
     WHERE id = ch.id;
    v_got := v_got || v_take;
    v_got_cur := v_got_cur || acct.currency;
  END LOOP;

  SELECT count(*), array_agg(amount - collected), array_agg(currency) INTO v_owed_n, v_owed, v_owed_cur
    FROM annual_fee_charges WHERE paid_at IS NULL AND due_date <= p_day;
  attention := v_owed_n > 0;
  result := v_due || ' card(s) due; '
            || CASE WHEN cardinality(v_got) > 0 THEN 'collected ' || ops_amounts_text(v_got, v_got_cur)
                    ELSE 'nothing collected' END
            || CASE WHEN v_owed_n > 0 THEN '; still owed (short of funds): ' || v_owed_n || ' fee(s), '
                                           || ops_amounts_text(v_owed, v_owed_cur)
                    ELSE '' END;
  details := jsonb_build_object('due', v_due, 'collections', cardinality(v_got), 'owed_fees', v_owed_n);
END $$;

-- The clearing check: did each expected scheme's file for the day arrive,
-- the net settlement per scheme and currency (clearing_reconciliation),
-- and the exceptions still open (the day's, and all).
CREATE FUNCTION eod_clearing_check(p_day date, OUT result text, OUT attention boolean, OUT details jsonb)
LANGUAGE plpgsql AS $$
DECLARE
  v_missing text[];
  v_nets text;
  v_open_day integer;
  v_open_all integer;
BEGIN
  SELECT array_agg(e.scheme::text ORDER BY e.scheme::text) INTO v_missing
    FROM unnest((SELECT eod_clearing_schemes FROM bank_settings)) AS e(scheme)
   WHERE NOT EXISTS (SELECT 1 FROM clearing_files f WHERE f.scheme = e.scheme AND f.business_day = p_day);
  SELECT string_agg(v.scheme || ' ' || v.files || ' file(s), net ' || ops_money_text(v.net_settlement::bigint, v.currency)
                    || CASE WHEN v.net_settlement < 0 THEN ' (owed to the bank)' ELSE ' to pay' END,
                    ', ' ORDER BY v.scheme::text, v.currency)
    INTO v_nets FROM clearing_reconciliation v WHERE v.business_day = p_day;
  SELECT count(*) FILTER (WHERE f.business_day = p_day), count(*) INTO v_open_day, v_open_all
    FROM clearing_exceptions x JOIN clearing_records r ON r.id = x.record_id JOIN clearing_files f ON f.id = r.file_id
   WHERE x.resolved_at IS NULL;
  attention := v_missing IS NOT NULL OR v_open_all > 0;
  result := coalesce(v_nets, 'no clearing files')
            || CASE WHEN v_missing IS NOT NULL THEN '; NOT IMPORTED: ' || array_to_string(v_missing, ', ') ELSE '' END
            || '; open exceptions ' || v_open_day || ' of the day''s files, ' || v_open_all || ' in all'
            || CASE WHEN attention THEN ' (ATTENTION)' ELSE '' END;
  details := jsonb_build_object('missing', to_jsonb(v_missing), 'open_exceptions_day', v_open_day,
                                'open_exceptions', v_open_all);
END $$;

-- One end-of-day step for business day p_day. Returns done_before = true
-- with the recorded result when the step ran before (nothing is done);
-- refuses a day that has not ended, an unknown step, or a step whose
-- predecessor has not run.
CREATE FUNCTION eod_step(p_day date, p_step text, p_operator text DEFAULT session_user)
RETURNS TABLE (done_before boolean, result text, attention boolean, done_at timestamptz, done_by text)
LANGUAGE plpgsql AS $$
DECLARE
  r eod_runs;
  v_k integer := array_position(eod_steps(), p_step);
  v_cutoff timestamptz;
  v_n integer;
  v_res text;
  v_att boolean := false;
  v_det jsonb;
  v_amounts text;
BEGIN
  IF v_k IS NULL THEN
    RAISE EXCEPTION 'unknown end-of-day step %', p_step USING ERRCODE = 'check_violation';
  END IF;
  -- Two runs for one day take turns; the second finds the first's rows.
  PERFORM pg_advisory_xact_lock(hashtextextended('eod|' || p_day::text, 0));
  SELECT * INTO r FROM eod_runs e WHERE e.business_day = p_day AND e.step = p_step;
  IF FOUND THEN
    RETURN QUERY SELECT true, r.result, r.attention, r.at, r.operator;
    RETURN;
  END IF;
  v_cutoff := eod_cutoff(p_day);
  IF v_cutoff >= now() THEN
    RAISE EXCEPTION 'business day % has not ended yet (it ends at midnight, %): run its end of day after that',
      p_day, (SELECT business_tz FROM bank_settings) USING ERRCODE = 'object_not_in_prerequisite_state';
  END IF;
  IF v_k > 1 AND NOT EXISTS (SELECT 1 FROM eod_runs e WHERE e.business_day = p_day AND e.step = (eod_steps())[v_k - 1]) THEN
    RAISE EXCEPTION 'end of day %: step % runs after %, which has not run', p_day, p_step, (eod_steps())[v_k - 1]
      USING ERRCODE = 'object_not_in_prerequisite_state';
  END IF;
  CASE p_step
  WHEN 'holds' THEN
    v_n := expire_holds(v_cutoff);
    SELECT ops_amounts_text(array_agg(amount), array_agg(currency)) INTO v_amounts
      FROM holds WHERE status = 'expired' AND closed_at = v_cutoff;
    v_res := v_n || ' hold(s) expired' || CASE WHEN v_n > 0 THEN ', released ' || v_amounts ELSE '' END;
    v_det := jsonb_build_object('expired', v_n);
  WHEN 'vouchers' THEN
    v_n := voucher_expire(v_cutoff);
    SELECT ops_amounts_text(array_agg(amount), array_agg(currency)) INTO v_amounts
      FROM cardless_vouchers WHERE status = 'expired' AND closed_at = v_cutoff;
    v_res := v_n || ' cardless voucher(s) expired'
             || CASE WHEN v_n > 0 THEN ', returned to the senders ' || v_amounts ELSE '' END;
    v_det := jsonb_build_object('expired', v_n);
  WHEN 'annual_fees' THEN
    SELECT f.result, f.attention, f.details INTO v_res, v_att, v_det FROM eod_annual_fees(p_day) f;
  WHEN 'clearing' THEN
    SELECT f.result, f.attention, f.details INTO v_res, v_att, v_det FROM eod_clearing_check(p_day) f;
  END CASE;
  INSERT INTO eod_runs (business_day, step, result, attention, details, operator)
    VALUES (p_day, p_step, v_res, v_att, v_det, p_operator) RETURNING * INTO r;
  INSERT INTO audit_log (operator, action, object, details)
    VALUES (p_operator, 'eod_' || p_step, 'eod:' || p_day,
            v_det || jsonb_build_object('result', v_res, 'attention', v_att, 'as_of', v_cutoff));
  RETURN QUERY SELECT false, r.result, r.attention, r.at, r.operator;
END $$;
