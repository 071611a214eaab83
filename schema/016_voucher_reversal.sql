-- Reversal of a cardless-cash withdrawal (an ATM's 0420 for its processing
-- code 93 request: time-out, or a partial dispense with DE 95). The
-- redemption moved the voucher's money from the voucher suspense account to
-- the ATM's cash account; what the ATM did not pay out comes back:
--   nothing dispensed:  the cash goes back to suspense and the voucher is
--                       active again (the recipient can try once more);
--   part dispensed:     the undispensed part goes back to the sender's
--                       account, and the voucher stays redeemed.
-- One entry, balanced; the voucher row locked. Repeats answered as before.
--
-- reverse_terminal() is switchd's call for every terminal reversal: a
-- voucher's original is reversed here, anything else by reverse_advice()
-- (migration 012).

CREATE FUNCTION reverse_voucher(
  p_acquirer_id text, p_terminal_id text, p_stan text, p_transmitted text,
  p_orig_stan text, p_orig_transmitted text, p_replacement bigint, p_mti text)
RETURNS auth_result LANGUAGE plpgsql AS $$
DECLARE
  r auth_result; o auth_log; v cardless_vouchers; t terminals;
  v_id bigint := nextval(pg_get_serial_sequence('auth_log', 'id'));
  v_day date := (now() AT TIME ZONE (SELECT business_tz FROM bank_settings))::date;
  v_back bigint := 0; v_entry bigint; v_cash bigint; v_code text := '00'; v_rule text;
BEGIN
  SELECT * INTO o FROM auth_log WHERE acquirer_id = p_acquirer_id AND terminal_id = p_terminal_id
     AND stan = p_orig_stan AND transmitted = p_orig_transmitted AND msg_class = 'voucher';
  IF NOT FOUND THEN
    RETURN NULL;   -- not a voucher's: reverse_advice() decides
  END IF;
  r := auth_duplicate('reversal', p_acquirer_id, p_terminal_id, p_stan, p_transmitted, p_replacement);
  IF r.response_code IS NOT NULL THEN RETURN r; END IF;

  IF o.response_code <> '00' THEN
    v_rule := 'original_not_approved';
  ELSIF p_replacement < 0 OR p_replacement > o.amount_txn THEN
    v_code := '13'; v_rule := 'invalid_replacement';
  ELSE
    SELECT * INTO v FROM cardless_vouchers WHERE close_entry_id = o.entry_id FOR UPDATE;
    SELECT * INTO o FROM auth_log WHERE id = o.id;
    v_back := o.amount_txn - o.reversed_amount - p_replacement;
    IF v_back <= 0 OR v.id IS NULL THEN
      v_back := 0; v_rule := 'already_reversed';
    ELSE
      SELECT * INTO t FROM terminals WHERE terminal_id = p_terminal_id;
      v_cash := CASE v.currency WHEN 840 THEN t.cash_account_usd ELSE t.cash_account_khr END;
      INSERT INTO journal_entries (business_day, kind, auth_id, reverses_entry_id, description)
        VALUES (v_day, 'voucher_reversal', v_id, o.entry_id, 'voucher ' || v.reference) RETURNING id INTO v_entry;
      PERFORM post_transfer(v_entry, v_cash, v.currency, -v_back,
                            internal_account('voucher_suspense', v.currency), v.currency, v_back);
      IF p_replacement = 0 AND o.reversed_amount = 0 THEN
        UPDATE cardless_vouchers SET status = 'active', closed_at = NULL, close_entry_id = NULL WHERE id = v.id;
        v_rule := 'voucher_restored';
      ELSE
        PERFORM 1 FROM accounts WHERE id = v.sender_account_id FOR NO KEY UPDATE;
        PERFORM post_transfer(v_entry, internal_account('voucher_suspense', v.currency), v.currency, -v_back,
                              v.sender_account_id, v.currency, v_back);
        v_rule := 'voucher_partial_refunded';
      END IF;
      UPDATE auth_log SET reversed_amount = reversed_amount + v_back WHERE id = o.id;
    END IF;
  END IF;

  INSERT INTO auth_log (id, business_day, msg_class, mti, txn_type, acquirer_id, terminal_id, stan,
      transmitted, account_id, amount_txn, currency_txn, amount_acct, currency_acct, response_code, rule,
      entry_id, original_auth_id, own_terminal)
  VALUES (v_id, v_day, 'reversal', p_mti, 'reversal', p_acquirer_id, p_terminal_id, p_stan,
      p_transmitted, o.account_id, p_replacement, o.currency_txn, v_back, o.currency_txn, v_code, v_rule,
      v_entry, o.id, o.own_terminal);
  RETURN ROW(v_code, v_rule, v_id, NULL, v_back, o.currency_txn, 0, NULL, NULL, NULL, v_entry, false)::auth_result;
END $$;

CREATE FUNCTION reverse_terminal(
  p_acquirer_id text, p_terminal_id text, p_stan text, p_transmitted text,
  p_orig_stan text, p_orig_transmitted text, p_replacement bigint, p_mti text,
  p_txn_type text, p_pan_hash bytea, p_amount bigint, p_currency smallint)
RETURNS auth_result LANGUAGE plpgsql AS $$
DECLARE r auth_result;
BEGIN
  -- The original's lock first, as authorise() and voucher_redeem() take
  -- theirs on the same key (reverse_advice() takes it again: re-entrant).
  PERFORM pg_advisory_xact_lock(hashtextextended(p_acquirer_id || '|' || p_terminal_id || '|' || p_orig_stan || '|' || p_orig_transmitted, 0));
  r := reverse_voucher(p_acquirer_id, p_terminal_id, p_stan, p_transmitted, p_orig_stan,
                       p_orig_transmitted, p_replacement, p_mti);
  IF r.response_code IS NOT NULL THEN
    RETURN r;
  END IF;
  RETURN reverse_advice(p_acquirer_id, p_terminal_id, p_stan, p_transmitted, p_orig_stan,
                        p_orig_transmitted, p_replacement, p_mti, p_txn_type, p_pan_hash, p_amount,
                        p_currency);
END $$;
