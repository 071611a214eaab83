-- Card status changes and PIN tries, cardless-cash vouchers, and the
-- idempotent batch jobs (hold expiry, voucher expiry).

-- Status change with reason; the instant is recorded to the microsecond
-- (clock_timestamp, not the transaction start), and any authorisation that
-- locks the card after this commits sees the new status.
CREATE FUNCTION card_set_status(p_card_id bigint, p_status card_status, p_reason text,
                                p_operator text DEFAULT session_user)
RETURNS timestamptz LANGUAGE plpgsql AS $$
DECLARE v_old card_status; v_at timestamptz := clock_timestamp();
BEGIN
  SELECT status INTO v_old FROM cards WHERE id = p_card_id FOR NO KEY UPDATE;
  IF NOT FOUND THEN RAISE EXCEPTION 'no card %', p_card_id USING ERRCODE = 'no_data_found'; END IF;
  IF v_old = 'closed' AND p_status <> 'closed' THEN
    RAISE EXCEPTION 'card % is closed', p_card_id USING ERRCODE = 'check_violation';
  END IF;
  UPDATE cards SET status = p_status, status_reason = p_reason, status_changed_at = v_at WHERE id = p_card_id;
  INSERT INTO audit_log (operator, action, object, details)
    VALUES (p_operator, 'card_status', 'card:' || p_card_id,
            jsonb_build_object('from', v_old, 'to', p_status, 'reason', p_reason, 'at', v_at));
  RETURN v_at;
END $$;

-- PIN verified outside authorise() (e.g. a PIN change): count or reset.
-- Returns the response code: '00', '55' wrong, '75' tries exhausted.
CREATE FUNCTION card_pin_try(p_card_id bigint, p_ok boolean) RETURNS text
LANGUAGE plpgsql AS $$
DECLARE v_tries smallint; v_max smallint := (SELECT pin_max_tries FROM bank_settings);
BEGIN
  SELECT pin_tries INTO v_tries FROM cards WHERE id = p_card_id FOR NO KEY UPDATE;
  IF NOT FOUND THEN RETURN '14'; END IF;
  IF v_tries >= v_max THEN RETURN '75'; END IF;
  IF p_ok THEN
    IF v_tries > 0 THEN UPDATE cards SET pin_tries = 0 WHERE id = p_card_id; END IF;
    RETURN '00';
  END IF;
  UPDATE cards SET pin_tries = pin_tries + 1 WHERE id = p_card_id;
  RETURN CASE WHEN v_tries + 1 >= v_max THEN '75' ELSE '55' END;
END $$;

CREATE FUNCTION card_pin_reset(p_card_id bigint, p_operator text DEFAULT session_user) RETURNS void
LANGUAGE plpgsql AS $$
BEGIN
  UPDATE cards SET pin_tries = 0 WHERE id = p_card_id;
  IF NOT FOUND THEN RAISE EXCEPTION 'no card %', p_card_id USING ERRCODE = 'no_data_found'; END IF;
  INSERT INTO audit_log (operator, action, object) VALUES (p_operator, 'pin_reset', 'card:' || p_card_id);
END $$;

-- Cardless cash, step 1: the sender's money moves to the voucher suspense
-- account at once. Returns (response code, voucher id): 00, 51, 62 (account
-- not active), 13 (amount), 94 (reference already used).
CREATE FUNCTION voucher_create(p_sender_account_id bigint, p_reference text, p_phone text,
                               p_code_hash bytea, p_amount bigint, p_currency smallint,
                               OUT response_code text, OUT voucher_id bigint)
LANGUAGE plpgsql AS $$
DECLARE a accounts; s bank_settings; v_entry bigint;
BEGIN
  SELECT * INTO s FROM bank_settings;
  SELECT * INTO a FROM accounts WHERE id = p_sender_account_id FOR NO KEY UPDATE;
  IF NOT FOUND OR a.status <> 'active' OR a.kind = 'internal' THEN response_code := '62'; RETURN; END IF;
  IF p_amount <= 0 OR p_currency <> a.currency THEN response_code := '13'; RETURN; END IF;
  IF EXISTS (SELECT 1 FROM cardless_vouchers WHERE reference = p_reference) THEN response_code := '94'; RETURN; END IF;
  IF p_amount > account_available(a) THEN response_code := '51'; RETURN; END IF;
  INSERT INTO journal_entries (business_day, kind, description)
    VALUES ((now() AT TIME ZONE s.business_tz)::date, 'voucher_create', 'voucher ' || p_reference)
    RETURNING id INTO v_entry;
  PERFORM post_transfer(v_entry, a.id, a.currency, -p_amount,
                        internal_account('voucher_suspense', a.currency), a.currency, p_amount);
  INSERT INTO cardless_vouchers (reference, sender_account_id, recipient_phone, code_hash, amount,
                                 currency, expires_at, create_entry_id)
    VALUES (p_reference, a.id, p_phone, p_code_hash, p_amount, p_currency,
            now() + make_interval(days => s.voucher_days), v_entry)
    RETURNING id INTO voucher_id;
  response_code := '00';
END $$;

-- Cardless cash, step 2, at one of our ATMs: reference + code hash +
-- amount. 00 posts suspense -> ATM cash; 55 wrong code (tries counted);
-- 75 voucher locked by too many wrong codes; 54 expired; 13 wrong amount;
-- 14 unknown or already redeemed; 03/58 not our ATM.
CREATE FUNCTION voucher_redeem(p_acquirer_id text, p_terminal_id text, p_stan text, p_transmitted text,
                               p_reference text, p_code_hash bytea, p_amount bigint, p_currency smallint)
RETURNS auth_result LANGUAGE plpgsql AS $$
DECLARE
  r auth_result; v cardless_vouchers; s bank_settings; t terminals;
  v_id bigint := nextval(pg_get_serial_sequence('auth_log', 'id'));
  v_code text := '00'; v_rule text; v_entry bigint; v_approval text; v_day date;
BEGIN
  r := auth_duplicate('voucher', p_acquirer_id, p_terminal_id, p_stan, p_transmitted, p_amount);
  IF r.response_code IS NOT NULL THEN RETURN r; END IF;
  SELECT * INTO s FROM bank_settings;
  v_day := (now() AT TIME ZONE s.business_tz)::date;
  SELECT * INTO t FROM terminals WHERE terminal_id = p_terminal_id;
  SELECT * INTO v FROM cardless_vouchers WHERE reference = p_reference FOR UPDATE;
  IF p_acquirer_id <> s.own_acquirer_id OR t.id IS NULL THEN v_code := '03'; v_rule := 'not_own_terminal';
  ELSIF t.kind <> 'atm' THEN v_code := '58'; v_rule := 'terminal_not_atm';
  ELSIF v.id IS NULL OR v.status IN ('redeemed', 'cancelled') THEN v_code := '14'; v_rule := 'voucher_unknown';
  ELSIF v.status = 'locked' THEN v_code := '75'; v_rule := 'voucher_locked';
  ELSIF v.status = 'expired' OR v.expires_at <= now() THEN v_code := '54'; v_rule := 'voucher_expired';
  ELSIF v.code_hash <> p_code_hash THEN
    UPDATE cardless_vouchers SET tries = tries + 1,
           status = CASE WHEN tries + 1 >= s.voucher_max_tries THEN 'locked'::voucher_status ELSE status END
     WHERE id = v.id;
    IF v.tries + 1 >= s.voucher_max_tries THEN v_code := '75'; v_rule := 'voucher_locked_now';
    ELSE v_code := '55'; v_rule := 'voucher_code_wrong'; END IF;
  ELSIF v.amount <> p_amount OR v.currency <> p_currency THEN v_code := '13'; v_rule := 'voucher_amount';
  ELSE
    INSERT INTO journal_entries (business_day, kind, auth_id, description)
      VALUES (v_day, 'voucher_redeem', v_id, 'voucher ' || v.reference) RETURNING id INTO v_entry;
    PERFORM post_transfer(v_entry, internal_account('voucher_suspense', v.currency), v.currency, -v.amount,
                          CASE v.currency WHEN 840 THEN t.cash_account_usd ELSE t.cash_account_khr END,
                          v.currency, v.amount);
    UPDATE cardless_vouchers SET status = 'redeemed', closed_at = now(), close_entry_id = v_entry WHERE id = v.id;
    v_rule := 'voucher_redeemed';
    v_approval := lpad((v_id % 1000000)::text, 6, '0');
  END IF;
  INSERT INTO auth_log (id, business_day, msg_class, txn_type, acquirer_id, terminal_id, stan, transmitted,
      account_id, amount_txn, currency_txn, amount_acct, currency_acct, response_code, rule,
      approval_code, entry_id, own_terminal)
  VALUES (v_id, v_day, 'voucher', 'voucher_redeem', p_acquirer_id, p_terminal_id, p_stan, p_transmitted,
      v.sender_account_id, p_amount, p_currency, p_amount, p_currency, v_code, v_rule,
      v_approval, v_entry, t.id IS NOT NULL);
  RETURN ROW(v_code, v_rule, v_id, v_approval, p_amount, p_currency, 0, NULL, NULL, NULL, v_entry, false)::auth_result;
END $$;

-- Batch job: vouchers past their expiry (active or locked) return their
-- money to the sender. Idempotent: each voucher is closed once. Returns count.
CREATE FUNCTION voucher_expire(p_now timestamptz DEFAULT now()) RETURNS integer
LANGUAGE plpgsql AS $$
DECLARE v cardless_vouchers; n integer := 0; v_entry bigint;
  v_tz text := (SELECT business_tz FROM bank_settings);
BEGIN
  FOR v IN SELECT * FROM cardless_vouchers WHERE status IN ('active', 'locked') AND expires_at <= p_now
             ORDER BY id FOR UPDATE SKIP LOCKED LOOP
    PERFORM 1 FROM accounts WHERE id = v.sender_account_id FOR NO KEY UPDATE;
    INSERT INTO journal_entries (business_day, kind, description)
      VALUES ((p_now AT TIME ZONE v_tz)::date, 'voucher_expire', 'voucher ' || v.reference)
      RETURNING id INTO v_entry;
    PERFORM post_transfer(v_entry, internal_account('voucher_suspense', v.currency), v.currency, -v.amount,
                          v.sender_account_id, v.currency, v.amount);
    UPDATE cardless_vouchers SET status = 'expired', closed_at = p_now, close_entry_id = v_entry WHERE id = v.id;
    n := n + 1;
  END LOOP;
  RETURN n;
END $$;

-- Batch job: release holds nobody presented within hold_days (32).
-- Idempotent and safe to run concurrently with the switch: the account is
-- locked before the hold (the switch's order), and the hold is re-checked.
CREATE FUNCTION expire_holds(p_now timestamptz DEFAULT now()) RETURNS integer
LANGUAGE plpgsql AS $$
DECLARE r record; n integer := 0;
BEGIN
  FOR r IN SELECT id, account_id FROM holds WHERE status = 'active' AND expires_at <= p_now ORDER BY id LOOP
    PERFORM 1 FROM accounts WHERE id = r.account_id FOR NO KEY UPDATE;
    UPDATE holds SET status = 'expired', closed_at = p_now
     WHERE id = r.id AND status = 'active' AND expires_at <= p_now;
    IF FOUND THEN n := n + 1; END IF;
  END LOOP;
  RETURN n;
END $$;
