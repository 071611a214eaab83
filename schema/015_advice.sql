-- Authorisation advices (0120 / 0130, WIRE.md): a stand-in approval made
-- elsewhere (a scheme's stand-in processing, a terminal's floor limit)
-- while the bank could not be asked. The approval has been given to the
-- cardholder; the bank must record it: the amount (converted at the rate in
-- force now) is held like an approval of its own, counted in the day's
-- usage, and logged, even when it goes past a limit or the balance (the
-- rule says so: advice_over_limit / advice_over_balance). The advice is
-- always acknowledged 00, so the sender stops repeating it; an unknown
-- card is acknowledged and logged (advice_unknown_card) with nothing held.
-- Repeats (0121) get the first answer and hold nothing twice.

CREATE FUNCTION authorise_advice(
  p_txn_type text, p_acquirer_id text, p_terminal_id text, p_stan text, p_transmitted text,
  p_pan_hash bytea, p_amount bigint, p_currency smallint,
  p_approval_code text DEFAULT NULL,   -- DE 38: the stand-in's approval code
  p_merchant_id text DEFAULT NULL, p_mcc text DEFAULT NULL, p_rrn text DEFAULT NULL,
  p_mti text DEFAULT '0120', p_proc_code text DEFAULT NULL)
RETURNS auth_result LANGUAGE plpgsql AS $$
DECLARE
  s bank_settings; c cards; a accounts; pv product_versions; orig auth_log;
  v_id bigint := nextval(pg_get_serial_sequence('auth_log', 'id'));
  v_day date; v_now timestamptz := now();
  v_rule text := 'advice_recorded'; v_amt bigint; v_rate_id integer; v_rate numeric(20,8);
  v_chan text; v_hold bigint; v_ledger_before bigint; v_avail_before bigint;
BEGIN
  PERFORM pg_advisory_xact_lock(hashtextextended(p_acquirer_id || '|' || p_terminal_id || '|' || p_stan || '|' || p_transmitted, 0));
  SELECT * INTO orig FROM auth_log l
   WHERE l.acquirer_id = p_acquirer_id AND l.terminal_id = p_terminal_id
     AND l.stan = p_stan AND l.transmitted = p_transmitted AND l.msg_class = 'auth';
  IF FOUND THEN
    IF orig.pan_hash IS NOT DISTINCT FROM p_pan_hash AND orig.amount_txn = p_amount THEN
      RETURN auth_result_of(orig, true);
    END IF;
    RETURN ROW('94', 'duplicate_mismatch', orig.id, NULL, NULL, NULL, 0, NULL, NULL, NULL, NULL, true)::auth_result;
  END IF;
  SELECT * INTO s FROM bank_settings;
  v_day := (v_now AT TIME ZONE s.business_tz)::date;
  v_chan := CASE WHEN p_txn_type = 'cash' THEN 'cash'
                 WHEN p_txn_type IN ('purchase', 'preauth', 'cashback') THEN 'purchase' END;

  SELECT * INTO c FROM cards WHERE pan_hash = p_pan_hash FOR NO KEY UPDATE;
  IF NOT FOUND OR p_amount <= 0 OR v_chan IS NULL THEN
    v_rule := CASE WHEN c.id IS NULL THEN 'advice_unknown_card' ELSE 'advice_not_recordable' END;
  ELSE
    SELECT * INTO a FROM accounts WHERE id = c.account_id FOR NO KEY UPDATE;
    v_ledger_before := a.ledger_balance;
    v_avail_before := account_available(a);
    SELECT * INTO pv FROM product_versions
     WHERE product_id = c.product_id AND effective_from <= v_now ORDER BY effective_from DESC LIMIT 1;
    IF p_currency = a.currency THEN
      v_amt := p_amount;
    ELSE
      SELECT r.id, r.rate INTO v_rate_id, v_rate FROM exchange_rates r
       WHERE r.from_currency = p_currency AND r.to_currency = a.currency AND r.effective_from <= v_now
       ORDER BY r.effective_from DESC LIMIT 1;
      v_amt := round(p_amount * coalesce(v_rate, 0))::bigint;
    END IF;
    IF v_rate_id IS NULL AND p_currency <> a.currency THEN
      v_rule := 'advice_no_exchange_rate';   -- logged for the back office, nothing held
    ELSE
      IF v_amt > v_avail_before THEN v_rule := 'advice_over_balance'; END IF;
      IF (SELECT coalesce(sum(u.count), 0) FROM daily_usage u WHERE u.card_id = c.id
             AND u.business_day = v_day AND u.channel = v_chan)
         >= (CASE v_chan WHEN 'cash' THEN pv.daily_cash_count ELSE pv.daily_purchase_count END) THEN
        v_rule := 'advice_over_limit';
      END IF;
      INSERT INTO holds (account_id, card_id, auth_id, currency, amount, fee, original_amount, expires_at)
        VALUES (a.id, c.id, v_id, a.currency, v_amt, 0, v_amt, v_now + make_interval(days => s.hold_days))
        RETURNING id INTO v_hold;
      INSERT INTO daily_usage AS u (card_id, business_day, channel, currency, amount, count)
        VALUES (c.id, v_day, v_chan, p_currency, p_amount, 1)
        ON CONFLICT (card_id, business_day, channel, currency)
        DO UPDATE SET amount = u.amount + EXCLUDED.amount, count = u.count + 1;
      SELECT * INTO a FROM accounts WHERE id = a.id;
    END IF;
  END IF;

  INSERT INTO auth_log (id, business_day, msg_class, mti, txn_type, proc_code, acquirer_id, terminal_id,
      stan, transmitted, rrn, merchant_id, mcc, own_terminal, channel, card_id, pan_hash, account_id,
      amount_txn, currency_txn, amount_acct, currency_acct, rate_id, rate, fee_version_id,
      ledger_before, ledger_after, available_before, available_after, response_code, rule,
      approval_code, hold_id, retention_class)
  VALUES (v_id, v_day, 'auth', p_mti, p_txn_type, p_proc_code, p_acquirer_id, p_terminal_id,
      p_stan, p_transmitted, p_rrn, p_merchant_id, p_mcc, p_acquirer_id = s.own_acquirer_id, v_chan,
      c.id, p_pan_hash, a.id, p_amount, p_currency, v_amt, a.currency, v_rate_id, v_rate, pv.id,
      v_ledger_before, a.ledger_balance, v_avail_before, account_available(a), '00', v_rule,
      left(p_approval_code, 6), v_hold, 'auth');
  RETURN ROW('00', v_rule, v_id, left(p_approval_code, 6), v_amt, a.currency, 0, a.ledger_balance,
             account_available(a), v_hold, NULL, false)::auth_result;
END $$;
