-- A terminal's reversal that arrives before its original (the original is
-- delayed in the network, or still in flight in another switchd process,
-- or lost). WIRE.md: a reversal advice must be acknowledged, or the
-- terminal repeats it for ever; and the original, should it arrive after
-- all, must not take the customer's money for a transaction the terminal
-- has already cancelled.
--
-- reverse_advice() is what switchd calls for a terminal's 0400/0420. It
-- takes the ORIGINAL's duplicate-detection lock (the one authorise() takes
-- for it) before reverse(), so the two are serialised: either the original
-- committed first and is reversed, or there is no original yet, and then
-- a placeholder row takes the original's key in the authorisation log
-- (msg_class 'auth', rule 'reversed_before_arrival', response 91). When
-- the original arrives, authorise()'s duplicate check finds that row: the
-- same content gets the placeholder's answer, 91, other content 94;
-- nothing is held or posted either way. The reversal itself is answered
-- 00 (acknowledged, rule original_not_found_acknowledged); a repeat of it
-- gets the same answer.

CREATE FUNCTION reverse_advice(
  p_acquirer_id text, p_terminal_id text,
  p_stan text, p_transmitted text,            -- this reversal's DE 11 / DE 7
  p_orig_stan text, p_orig_transmitted text,  -- the original's, from DE 90
  p_replacement bigint,                       -- DE 95 amount, 0 for a full reversal
  p_mti text,                                 -- this reversal's MTI (repeats logged as 0400/0420)
  p_txn_type text,                            -- the original's type, from DE 3 and DE 90's MTI
  p_pan_hash bytea,                           -- NULL when the reversal has no PAN
  p_amount bigint,                            -- DE 4: the original's amount
  p_currency smallint)
RETURNS auth_result LANGUAGE plpgsql AS $$
DECLARE
  r auth_result;
  s bank_settings;
  v_card bigint;
  v_acct bigint;
BEGIN
  PERFORM pg_advisory_xact_lock(hashtextextended(p_acquirer_id || '|' || p_terminal_id || '|' || p_orig_stan || '|' || p_orig_transmitted, 0));
  r := reverse(p_acquirer_id, p_terminal_id, p_stan, p_transmitted, p_orig_stan, p_orig_transmitted,
               p_replacement, p_mti);
  IF r.response_code <> '25' OR r.duplicate THEN
    RETURN r;
  END IF;
  SELECT * INTO s FROM bank_settings;
  IF p_pan_hash IS NOT NULL THEN
    SELECT id, account_id INTO v_card, v_acct FROM cards WHERE pan_hash = p_pan_hash;
  END IF;
  INSERT INTO auth_log (business_day, msg_class, mti, txn_type, acquirer_id, terminal_id, stan,
      transmitted, own_terminal, card_id, pan_hash, account_id, amount_txn, currency_txn,
      response_code, rule)
  VALUES ((now() AT TIME ZONE s.business_tz)::date, 'auth', NULL, coalesce(p_txn_type, 'unknown'),
      p_acquirer_id, p_terminal_id, p_orig_stan, p_orig_transmitted,
      p_acquirer_id = s.own_acquirer_id, v_card, p_pan_hash, v_acct, coalesce(p_amount, 0),
      p_currency, '91', 'reversed_before_arrival');
  UPDATE auth_log SET response_code = '00', rule = 'original_not_found_acknowledged',
                      card_id = v_card, pan_hash = p_pan_hash, account_id = v_acct
   WHERE id = r.auth_id;
  r.response_code := '00';
  r.rule := 'original_not_found_acknowledged';
  RETURN r;
END $$;
