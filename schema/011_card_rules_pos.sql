-- The card rules at the point of sale and the ATM services beyond cash
-- (issue 6): cardholder verification (PIN, signature, contactless under a
-- no-PIN limit, CVV2 for card-not-present, recurring card-on-file), CVV
-- keys on cards, PIN change at the ATM, and the switch's own decisions in
-- the authorisation log.

-- Contactless purchases up to this amount need no PIN (USD minor units;
-- KHR by the reference rate, like the limits).
ALTER TABLE bank_settings
  ADD COLUMN contactless_cvm_limit bigint NOT NULL DEFAULT 5000 CHECK (contactless_cvm_limit >= 0);

-- The CVK (CVK A | CVK B under the LMK) that made the card's CVV, CVV2 and
-- iCVV; NULL until hsm-sim provides one (CVV2 then cannot be checked: 05).
ALTER TABLE cards ADD COLUMN cvk_key_id integer REFERENCES crypto_keys;

-- 'local': a message switchd answered itself, before or without
-- authorise() (no PIN at an ATM, MAC failure, terminal not signed on,
-- format error...). Logged for the operator; never a duplicate-detection
-- original (a repeat is decided afresh, and answered the same way).
ALTER TABLE auth_log DROP CONSTRAINT auth_log_msg_class_check;
ALTER TABLE auth_log ADD CONSTRAINT auth_log_msg_class_check
  CHECK (msg_class IN ('auth', 'reversal', 'completion', 'voucher', 'inquiry', 'local'));

-- card_lookup() also gives the CVK and the card's expiry as encoded (YYMM).
DROP FUNCTION card_lookup(bytea);
CREATE FUNCTION card_lookup(p_pan_hash bytea)
RETURNS TABLE (card_id bigint, status card_status, expiry date, service_code text,
               pin_method pin_method, pvki smallint, pin_verify_data text,
               pvk_lmk text, pin_tries smallint, pin_max_tries smallint,
               cvk_lmk text, expiry_yymm text)
LANGUAGE sql STABLE AS $$
  SELECT c.id, c.status, c.expiry, c.service_code::text, c.pin_method, c.pvki, c.pin_verify_data,
         k.key_lmk, c.pin_tries, s.pin_max_tries, v.key_lmk, to_char(c.expiry, 'YYMM')
    FROM cards c LEFT JOIN crypto_keys k ON k.id = c.pvk_key_id
                 LEFT JOIN crypto_keys v ON v.id = c.cvk_key_id, bank_settings s
   WHERE c.pan_hash = p_pan_hash
$$;

-- Card status and expiry as a response code: '00' or the decline with
-- its rule. Lost and stolen first: the pick-up codes win.
CREATE FUNCTION card_status_check(c cards, p_day date, p_expiry date,
                                  OUT code text, OUT rule text)
LANGUAGE plpgsql STABLE AS $$
BEGIN
  code := '00';
  CASE c.status
    WHEN 'lost'   THEN code := '41'; rule := 'card_lost';
    WHEN 'stolen' THEN code := '43'; rule := 'card_stolen';
    WHEN 'expired' THEN code := '54'; rule := 'card_expired';
    WHEN 'closed' THEN code := '62'; rule := 'card_closed';
    WHEN 'inactive' THEN code := '62'; rule := 'card_inactive';
    WHEN 'blocked_customer' THEN code := '62'; rule := 'card_blocked_customer';
    WHEN 'blocked_bank' THEN code := '62'; rule := 'card_blocked_bank';
    ELSE
      IF c.expiry < p_day THEN code := '54'; rule := 'card_expired';
      ELSIF p_expiry IS NOT NULL AND p_expiry <> c.expiry THEN code := '54'; rule := 'expiry_mismatch';
      END IF;
  END CASE;
END $$;

-- authorise() as in 005, with cardholder verification (step 5b) and the
-- card status from card_status_check().
DROP FUNCTION authorise(text, text, text, text, text, bytea, bigint, smallint, text, text, text,
                        text, text, date, text, boolean);
CREATE FUNCTION authorise(
  p_txn_type    text,      -- purchase | cash | preauth | cashback | refund | balance
  p_acquirer_id text,      -- DE 32
  p_terminal_id text,      -- DE 41
  p_stan        text,      -- DE 11
  p_transmitted text,      -- DE 7
  p_pan_hash    bytea,     -- HMAC-SHA-256(PAN), computed by the caller
  p_amount      bigint,    -- DE 4, minor units of p_currency (0 for balance)
  p_currency    smallint,  -- DE 49
  p_merchant_id text    DEFAULT NULL,   -- DE 42
  p_mcc         text    DEFAULT NULL,   -- DE 18
  p_rrn         text    DEFAULT NULL,   -- DE 37
  p_mti         text    DEFAULT NULL,
  p_proc_code   text    DEFAULT NULL,   -- DE 3
  p_expiry      date    DEFAULT NULL,   -- from DE 14/35 (last day of month), NULL if absent
  p_pin_result  text    DEFAULT NULL,   -- NULL: no PIN; 'ok' / 'bad': the HSM's verdict
  p_recurring   boolean DEFAULT false,  -- card-on-file recurring charge
  p_cvm         text    DEFAULT NULL,   -- how the cardholder was verified (below); NULL: not said
  p_cvv2_result text    DEFAULT NULL)   -- NULL: no CVV2; 'ok' / 'bad': the HSM's verdict
RETURNS auth_result LANGUAGE plpgsql AS $$
DECLARE
  s        bank_settings;
  c        cards;
  a        accounts;
  pv       product_versions;
  t        terminals;
  orig     auth_log;
  v_id     bigint;
  v_day    date;
  v_now    timestamptz := now();
  v_own    boolean;
  v_chan   text;
  v_code   text := '00';
  v_rule   text;
  v_rate_id integer;
  v_rate   numeric(20,8);
  v_amt    bigint;         -- principal, account currency
  v_fee    bigint := 0;
  v_conv   bigint := 0;
  v_limit  bigint;
  v_used_amt bigint;
  v_used_cnt bigint;
  v_cnt_limit integer;
  v_ledger_before bigint;
  v_avail_before  bigint;
  v_hold   bigint;
  v_entry  bigint;
  v_cash   bigint;
  v_approval text;
BEGIN
  -- 1. Duplicate detection on (DE 32, DE 41, DE 11, DE 7).
  PERFORM pg_advisory_xact_lock(hashtextextended(p_acquirer_id || '|' || p_terminal_id || '|' || p_stan || '|' || p_transmitted, 0));
  SELECT * INTO orig FROM auth_log l
   WHERE l.acquirer_id = p_acquirer_id AND l.terminal_id = p_terminal_id
     AND l.stan = p_stan AND l.transmitted = p_transmitted AND l.msg_class = 'auth';
  IF FOUND THEN
    IF orig.pan_hash IS NOT DISTINCT FROM p_pan_hash AND orig.amount_txn = p_amount
       AND orig.currency_txn IS NOT DISTINCT FROM p_currency AND orig.txn_type = p_txn_type THEN
      RETURN auth_result_of(orig, true);
    END IF;
    RETURN ROW('94', 'duplicate_mismatch', orig.id, NULL, NULL, NULL, 0, NULL, NULL, NULL, NULL, true)::auth_result;
  END IF;

  SELECT * INTO s FROM bank_settings;
  v_day := (v_now AT TIME ZONE s.business_tz)::date;
  v_id := nextval(pg_get_serial_sequence('auth_log', 'id'));
  v_own := p_acquirer_id = s.own_acquirer_id;
  v_chan := CASE p_txn_type WHEN 'cash' THEN 'cash'
                            WHEN 'purchase' THEN 'purchase' WHEN 'preauth' THEN 'purchase'
                            WHEN 'cashback' THEN 'purchase' END;

  -- 2. Card and account, locked in that order.
  SELECT * INTO c FROM cards WHERE pan_hash = p_pan_hash FOR NO KEY UPDATE;
  IF NOT FOUND THEN
    v_code := '14'; v_rule := 'unknown_card';
  ELSE
    SELECT * INTO a FROM accounts WHERE id = c.account_id FOR NO KEY UPDATE;
    v_ledger_before := a.ledger_balance;
    v_avail_before := account_available(a);
  END IF;

  IF v_code = '00' AND p_txn_type NOT IN ('purchase', 'cash', 'preauth', 'cashback', 'refund', 'balance') THEN
    v_code := '12'; v_rule := 'invalid_transaction';
  ELSIF v_code = '00' AND (p_amount < 0 OR (p_amount = 0 AND p_txn_type <> 'balance')) THEN
    v_code := '13'; v_rule := 'invalid_amount';
  END IF;

  -- 3. Own terminals must be known (03), and only ATMs dispense cash (58).
  IF v_code = '00' AND v_own THEN
    SELECT * INTO t FROM terminals WHERE terminal_id = p_terminal_id;
    IF NOT FOUND OR t.status <> 'active' THEN
      v_code := '03'; v_rule := 'unknown_terminal';
    ELSIF p_txn_type IN ('cash', 'balance') AND t.kind <> 'atm' THEN
      v_code := '58'; v_rule := 'terminal_not_atm';
    END IF;
  END IF;

  -- 4. Card status and expiry. Lost/stolen first: the pick-up codes win.
  IF v_code = '00' THEN
    SELECT * INTO v_code, v_rule FROM card_status_check(c, v_day, p_expiry);
  END IF;
  IF v_code = '00' AND a.status <> 'active' THEN
    v_code := '62';
    v_rule := 'account_' || a.status::text;
  END IF;

  -- 5. PIN tries: the HSM gave its verdict; the counter lives here.
  IF v_code = '00' THEN
    IF c.pin_tries >= s.pin_max_tries THEN
      v_code := '75'; v_rule := 'pin_tries_exceeded';
    ELSIF p_pin_result = 'bad' THEN
      UPDATE cards SET pin_tries = pin_tries + 1 WHERE id = c.id;
      IF c.pin_tries + 1 >= s.pin_max_tries THEN v_code := '75'; v_rule := 'pin_tries_exceeded_now';
      ELSE v_code := '55'; v_rule := 'pin_incorrect'; END IF;
    ELSIF p_pin_result = 'ok' AND c.pin_tries > 0 THEN
      UPDATE cards SET pin_tries = 0 WHERE id = c.id;
    END IF;
  END IF;

  -- 5b. Cardholder verification (docs/message-profile.md, "Cardholder
  --     verification"): cash and cash-back need the PIN; contactless
  --     without PIN only up to the bank's no-PIN limit; a card-not-present
  --     charge needs a good CVV2 unless it is a recurring card-on-file one.
  IF v_code = '00' AND p_cvm IS NOT NULL THEN
    IF p_txn_type IN ('cash', 'cashback', 'balance') AND p_cvm <> 'pin' THEN
      v_code := '55'; v_rule := 'pin_required';
    ELSIF p_cvm = 'contactless' AND p_txn_type <> 'refund'
          AND p_amount > usd_figure_in(s.contactless_cvm_limit, p_currency, s.khr_per_usd_reference) THEN
      v_code := '55'; v_rule := 'pin_required_contactless';
    ELSIF p_cvm = 'cvv2' AND p_cvv2_result IS DISTINCT FROM 'ok' THEN
      v_code := '05'; v_rule := 'cvv2_mismatch';
    ELSIF p_cvm = 'cnp' AND p_txn_type <> 'refund' THEN
      v_code := '05'; v_rule := 'cvv2_required';
    ELSIF p_cvm = 'cof' AND NOT p_recurring THEN
      v_code := '05'; v_rule := 'cvv2_required';
    END IF;
  END IF;

  -- 6. Stop-payment on a recurring merchant charge.
  IF v_code = '00' AND p_recurring AND p_merchant_id IS NOT NULL
     AND EXISTS (SELECT 1 FROM stop_payments sp WHERE sp.card_id = c.id
                   AND sp.merchant_id = p_merchant_id AND sp.lifted_at IS NULL) THEN
    v_code := '57'; v_rule := 'stop_payment';
  END IF;

  -- 7. Conversion at the rate in force now, then fees from the product
  --    version in force now (recorded: fee_version_id).
  IF v_code = '00' THEN
    SELECT * INTO pv FROM product_versions
     WHERE product_id = c.product_id AND effective_from <= v_now
     ORDER BY effective_from DESC LIMIT 1;
    IF p_currency = a.currency THEN
      v_amt := p_amount;
    ELSE
      SELECT r.id, r.rate INTO v_rate_id, v_rate FROM exchange_rates r
       WHERE r.from_currency = p_currency AND r.to_currency = a.currency AND r.effective_from <= v_now
       ORDER BY r.effective_from DESC LIMIT 1;
      IF NOT FOUND THEN
        v_code := '05'; v_rule := 'no_exchange_rate';
      ELSE
        v_amt := round(p_amount * v_rate)::bigint;
        v_conv := bp_of(v_amt, pv.fee_conversion_bp);
      END IF;
    END IF;
  END IF;
  IF v_code = '00' AND NOT v_own THEN
    IF p_txn_type = 'cash' THEN
      v_fee := greatest(bp_of(v_amt, pv.fee_foreign_cash_bp),
                        usd_figure_in(pv.fee_foreign_cash_min, a.currency, s.khr_per_usd_reference));
    ELSIF p_txn_type = 'balance' THEN
      v_fee := usd_figure_in(pv.fee_balance_foreign, a.currency, s.khr_per_usd_reference);
    END IF;
  END IF;
  IF p_txn_type IN ('refund', 'balance') THEN v_conv := 0; END IF;

  -- 8. Daily counts (per channel) and the combined amount limit (per
  --    transaction currency; the customer's own lower limit applies).
  IF v_code = '00' AND v_chan IS NOT NULL THEN
    SELECT coalesce(sum(u.amount) FILTER (WHERE u.currency = p_currency), 0),
           coalesce(sum(u.count) FILTER (WHERE u.channel = v_chan), 0)
      INTO v_used_amt, v_used_cnt
      FROM daily_usage u WHERE u.card_id = c.id AND u.business_day = v_day;
    v_cnt_limit := CASE v_chan WHEN 'cash' THEN pv.daily_cash_count ELSE pv.daily_purchase_count END;
    v_limit := usd_figure_in(least(pv.daily_amount_limit, coalesce(c.customer_daily_limit, pv.daily_amount_limit)),
                             p_currency, s.khr_per_usd_reference);
    IF v_used_cnt + 1 > v_cnt_limit THEN
      v_code := '65'; v_rule := 'daily_count_' || v_chan;
    ELSIF v_used_amt + p_amount > v_limit THEN
      v_code := '61';
      v_rule := CASE WHEN c.customer_daily_limit < pv.daily_amount_limit THEN 'daily_amount_card' ELSE 'daily_amount_product' END;
    END IF;
  END IF;

  -- 9. Available balance.
  IF v_code = '00' AND p_txn_type <> 'refund' AND v_amt + v_fee + v_conv > v_avail_before
     AND NOT (p_txn_type = 'balance' AND v_fee = 0) THEN
    v_code := '51'; v_rule := 'insufficient_funds';
  END IF;

  -- 10. Apply: own-ATM cash is posted at once (from the ATM's cash account);
  --     refunds are credited; inquiry fees are posted; everything else is held.
  IF v_code = '00' THEN
    v_approval := lpad((v_id % 1000000)::text, 6, '0');
    IF (p_txn_type = 'cash' AND v_own) OR p_txn_type = 'refund' OR (p_txn_type = 'balance' AND v_fee > 0) THEN
      INSERT INTO journal_entries (business_day, kind, auth_id)
        VALUES (v_day, CASE WHEN p_txn_type = 'cash' THEN 'atm_cash' ELSE p_txn_type END, v_id)
        RETURNING id INTO v_entry;
      IF p_txn_type = 'cash' THEN
        v_cash := CASE p_currency WHEN 840 THEN t.cash_account_usd WHEN 116 THEN t.cash_account_khr END;
        PERFORM post_transfer(v_entry, a.id, a.currency, -v_amt, v_cash, p_currency, p_amount);
      ELSIF p_txn_type = 'refund' THEN
        PERFORM post_transfer(v_entry, a.id, a.currency, v_amt,
                              internal_account('scheme_settlement', p_currency), p_currency, -p_amount);
      END IF;
      IF v_fee > 0 THEN
        PERFORM post_transfer(v_entry, a.id, a.currency, -v_fee,
                              internal_account('fee_income', a.currency), a.currency, v_fee, 'fee');
      END IF;
      IF v_conv > 0 THEN
        PERFORM post_transfer(v_entry, a.id, a.currency, -v_conv,
                              internal_account('fx_income', a.currency), a.currency, v_conv, 'conversion_fee');
      END IF;
      v_rule := CASE p_txn_type WHEN 'cash' THEN 'approved_posted' WHEN 'refund' THEN 'approved_refund'
                                ELSE 'approved_inquiry' END;
    ELSIF p_txn_type = 'balance' THEN
      v_rule := 'approved_inquiry';
    ELSE
      INSERT INTO holds (account_id, card_id, auth_id, currency, amount, fee, original_amount, expires_at)
        VALUES (a.id, c.id, v_id, a.currency, v_amt + v_fee + v_conv, v_fee + v_conv,
                v_amt + v_fee + v_conv, v_now + make_interval(days => s.hold_days))
        RETURNING id INTO v_hold;
      v_rule := 'approved_hold';
    END IF;
    IF v_chan IS NOT NULL THEN
      INSERT INTO daily_usage AS u (card_id, business_day, channel, currency, amount, count)
        VALUES (c.id, v_day, v_chan, p_currency, p_amount, 1)
        ON CONFLICT (card_id, business_day, channel, currency)
        DO UPDATE SET amount = u.amount + EXCLUDED.amount, count = u.count + 1;
    END IF;
    SELECT * INTO a FROM accounts WHERE id = a.id;
  END IF;

  INSERT INTO auth_log (id, business_day, msg_class, mti, txn_type, proc_code, acquirer_id, terminal_id,
      stan, transmitted, rrn, merchant_id, mcc, own_terminal, channel, card_id, pan_hash, account_id,
      amount_txn, currency_txn, amount_acct, currency_acct, rate_id, rate, fee, fee_conversion,
      fee_version_id, ledger_before, ledger_after, available_before, available_after, response_code,
      rule, approval_code, hold_id, entry_id, recurring, retention_class)
  VALUES (v_id, v_day, 'auth', p_mti, p_txn_type, p_proc_code, p_acquirer_id, p_terminal_id,
      p_stan, p_transmitted, p_rrn, p_merchant_id, p_mcc, v_own, v_chan, c.id, p_pan_hash, a.id,
      p_amount, p_currency, v_amt, a.currency, v_rate_id, v_rate,
      CASE WHEN v_code = '00' THEN v_fee ELSE 0 END, CASE WHEN v_code = '00' THEN v_conv ELSE 0 END,
      pv.id, v_ledger_before, a.ledger_balance, v_avail_before, account_available(a), v_code,
      v_rule, v_approval, v_hold, v_entry, p_recurring, 'auth');

  RETURN ROW(v_code, v_rule, v_id, v_approval, v_amt, a.currency,
             CASE WHEN v_code = '00' THEN v_fee + v_conv ELSE 0 END,
             a.ledger_balance, account_available(a), v_hold, v_entry, false)::auth_result;
END $$;

-- PIN change at one of our ATMs (0200, processing code 92): hsm-sim has
-- checked the current PIN and, when it was right, computed the new PVV or
-- offset (CU / DU); this records the outcome in one transaction. The
-- current PIN counts as a PIN try; a right one resets the counter. Same
-- duplicate detection as authorise(): a repeat gets the original answer.
CREATE FUNCTION pin_change(
  p_acquirer_id text, p_terminal_id text, p_stan text, p_transmitted text,
  p_pan_hash    bytea,
  p_pin_result  text,              -- 'ok' / 'bad': the HSM's verdict on the current PIN
  p_new_verify_data text,          -- the new PVV or offset when 'ok'
  p_mti         text DEFAULT NULL,
  p_proc_code   text DEFAULT NULL,
  p_expiry      date DEFAULT NULL)
RETURNS auth_result LANGUAGE plpgsql AS $$
DECLARE
  s bank_settings; c cards; a accounts; t terminals; orig auth_log;
  v_id bigint; v_day date; v_code text := '00'; v_rule text; v_approval text;
BEGIN
  PERFORM pg_advisory_xact_lock(hashtextextended(p_acquirer_id || '|' || p_terminal_id || '|' || p_stan || '|' || p_transmitted, 0));
  SELECT * INTO orig FROM auth_log l
   WHERE l.acquirer_id = p_acquirer_id AND l.terminal_id = p_terminal_id
     AND l.stan = p_stan AND l.transmitted = p_transmitted AND l.msg_class = 'auth';
  IF FOUND THEN
    IF orig.pan_hash IS NOT DISTINCT FROM p_pan_hash AND orig.txn_type = 'pin_change' THEN
      RETURN auth_result_of(orig, true);
    END IF;
    RETURN ROW('94', 'duplicate_mismatch', orig.id, NULL, NULL, NULL, 0, NULL, NULL, NULL, NULL, true)::auth_result;
  END IF;
  SELECT * INTO s FROM bank_settings;
  v_day := (now() AT TIME ZONE s.business_tz)::date;
  v_id := nextval(pg_get_serial_sequence('auth_log', 'id'));

  SELECT * INTO c FROM cards WHERE pan_hash = p_pan_hash FOR NO KEY UPDATE;
  IF NOT FOUND THEN
    v_code := '14'; v_rule := 'unknown_card';
  ELSE
    SELECT * INTO a FROM accounts WHERE id = c.account_id;
    SELECT * INTO t FROM terminals WHERE terminal_id = p_terminal_id;
    IF p_acquirer_id <> s.own_acquirer_id OR t.id IS NULL OR t.status <> 'active' THEN
      v_code := '03'; v_rule := 'not_own_terminal';
    ELSIF t.kind <> 'atm' THEN
      v_code := '58'; v_rule := 'terminal_not_atm';
    ELSE
      SELECT * INTO v_code, v_rule FROM card_status_check(c, v_day, p_expiry);
    END IF;
  END IF;
  IF v_code = '00' AND a.status <> 'active' THEN
    v_code := '62'; v_rule := 'account_' || a.status::text;
  END IF;
  IF v_code = '00' THEN
    IF c.pin_tries >= s.pin_max_tries THEN
      v_code := '75'; v_rule := 'pin_tries_exceeded';
    ELSIF p_pin_result IS DISTINCT FROM 'ok' THEN
      UPDATE cards SET pin_tries = pin_tries + 1 WHERE id = c.id;
      IF c.pin_tries + 1 >= s.pin_max_tries THEN v_code := '75'; v_rule := 'pin_tries_exceeded_now';
      ELSE v_code := '55'; v_rule := 'pin_incorrect'; END IF;
    ELSIF p_new_verify_data IS NULL OR p_new_verify_data !~ '^[0-9]{4,12}$' THEN
      RAISE EXCEPTION 'pin_change: new PIN verification data missing or malformed';
    ELSE
      UPDATE cards SET pin_verify_data = p_new_verify_data, pin_tries = 0 WHERE id = c.id;
      v_rule := 'pin_changed';
      v_approval := lpad((v_id % 1000000)::text, 6, '0');
      INSERT INTO audit_log (operator, action, object, details)
        VALUES ('switchd', 'pin_change', 'card:' || c.id,
                jsonb_build_object('terminal', p_terminal_id, 'stan', p_stan, 'auth_id', v_id));
    END IF;
  END IF;

  INSERT INTO auth_log (id, business_day, msg_class, mti, txn_type, proc_code, acquirer_id, terminal_id,
      stan, transmitted, own_terminal, card_id, pan_hash, account_id, amount_txn, currency_acct,
      ledger_before, ledger_after, available_before, available_after, response_code, rule,
      approval_code)
  VALUES (v_id, v_day, 'auth', p_mti, 'pin_change', p_proc_code, p_acquirer_id, p_terminal_id,
      p_stan, p_transmitted, p_acquirer_id = s.own_acquirer_id, c.id, p_pan_hash, a.id, 0, a.currency,
      a.ledger_balance, a.ledger_balance, account_available(a), account_available(a), v_code, v_rule,
      v_approval);
  RETURN ROW(v_code, v_rule, v_id, v_approval, 0, a.currency, 0, a.ledger_balance,
             account_available(a), NULL, NULL, false)::auth_result;
END $$;

-- A message switchd answered itself (msg_class 'local'): what it was, the
-- code and the rule. Nothing else changes. A repeat of the same message
-- is not logged twice.
CREATE FUNCTION auth_log_local(
  p_mti text, p_txn_type text, p_proc_code text, p_acquirer_id text, p_terminal_id text,
  p_stan text, p_transmitted text, p_pan_hash bytea, p_amount bigint, p_currency smallint,
  p_response_code text, p_rule text)
RETURNS bigint LANGUAGE plpgsql AS $$
DECLARE s bank_settings; v_id bigint; v_card bigint; v_acct bigint;
BEGIN
  SELECT * INTO s FROM bank_settings;
  IF p_pan_hash IS NOT NULL THEN
    SELECT id, account_id INTO v_card, v_acct FROM cards WHERE pan_hash = p_pan_hash;
  END IF;
  INSERT INTO auth_log (business_day, msg_class, mti, txn_type, proc_code, acquirer_id, terminal_id,
      stan, transmitted, own_terminal, card_id, pan_hash, account_id, amount_txn, currency_txn,
      response_code, rule)
  VALUES ((now() AT TIME ZONE s.business_tz)::date, 'local', p_mti, coalesce(p_txn_type, '-'),
      p_proc_code, coalesce(p_acquirer_id, '-'), coalesce(p_terminal_id, '-'), coalesce(p_stan, '-'),
      coalesce(p_transmitted, '-'), p_acquirer_id = s.own_acquirer_id, v_card, p_pan_hash, v_acct,
      coalesce(p_amount, 0), p_currency, p_response_code, left(p_rule, 200))
  ON CONFLICT (acquirer_id, terminal_id, stan, transmitted, msg_class) DO NOTHING
  RETURNING id INTO v_id;
  RETURN v_id;
END $$;
