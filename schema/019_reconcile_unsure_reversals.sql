-- Terminal reconciliation (014) and a terminal's time-out reversals. A POS
-- that got no answer reverses the sale in full with an 0420 (0421 repeats)
-- and, not knowing whether the switch ever approved it, counts neither the
-- sale nor the reversal in its batch. The switch counted both (a debit and
-- a debit reversal), so the next 0500 was out of balance (95) for a day
-- the two sides agree on. From here a full time-out reversal (0420/0421,
-- nothing kept) and the sale it reverses count in neither total; voids
-- (0400) and partial reversals still count as debit reversals. A time-out
-- reversal that arrives after its sale was already reconciled cannot be
-- taken out of that batch: the operator sees it as the difference.
CREATE OR REPLACE FUNCTION terminal_reconcile(p_acquirer_id text, p_terminal_id text, p_stan text,
                                              p_transmitted text, p_currency smallint, p_totals bigint[])
RETURNS auth_result LANGUAGE plpgsql AS $$
DECLARE
  r terminal_reconciliations;
  v_ours bigint[];
  v_code text;
BEGIN
  IF cardinality(p_totals) <> 8 THEN
    RETURN ROW('30', 'reconcile_totals_malformed', NULL, NULL, NULL, NULL, 0, NULL, NULL, NULL, NULL, false)::auth_result;
  END IF;
  PERFORM pg_advisory_xact_lock(hashtextextended('reconcile|' || p_acquirer_id || '|' || p_terminal_id, 0));
  SELECT * INTO r FROM terminal_reconciliations
   WHERE acquirer_id = p_acquirer_id AND terminal_id = p_terminal_id AND stan = p_stan
     AND transmitted = p_transmitted;
  IF FOUND THEN
    IF r.terminal_totals = p_totals AND r.currency = p_currency THEN
      RETURN ROW(r.response_code, CASE r.response_code WHEN '00' THEN 'in_balance' ELSE 'out_of_balance' END,
                 r.id, NULL, NULL, NULL, 0, NULL, NULL, NULL, NULL, true)::auth_result;
    END IF;
    RETURN ROW('94', 'duplicate_mismatch', r.id, NULL, NULL, NULL, 0, NULL, NULL, NULL, NULL, true)::auth_result;
  END IF;
  INSERT INTO terminal_reconciliations (business_day, acquirer_id, terminal_id, stan, transmitted,
      currency, terminal_totals, switch_totals, response_code)
  VALUES ((now() AT TIME ZONE (SELECT business_tz FROM bank_settings))::date, p_acquirer_id,
      p_terminal_id, p_stan, p_transmitted, p_currency, p_totals, '{0,0,0,0,0,0,0,0}', '96')
  RETURNING * INTO r;
  WITH closed AS (
    UPDATE auth_log l SET reconciliation_id = r.id
     WHERE l.acquirer_id = p_acquirer_id AND l.terminal_id = p_terminal_id
       AND l.reconciliation_id IS NULL AND l.response_code = '00'
       AND coalesce(l.currency_txn, p_currency) = p_currency
    RETURNING l.id, l.msg_class, l.txn_type, l.mti, l.rule, l.amount_txn, l.original_auth_id
  ), k AS (
    SELECT CASE
             -- a full time-out reversal, and the sale it reversed: neither side counts them
             WHEN c.msg_class = 'reversal' AND c.mti LIKE '042%' AND c.amount_txn = 0 THEN NULL
             WHEN EXISTS (SELECT 1 FROM auth_log v
                           WHERE v.original_auth_id = c.id AND v.msg_class = 'reversal' AND v.mti LIKE '042%'
                             AND v.amount_txn = 0 AND v.response_code = '00'
                             AND v.rule IN ('hold_released', 'posting_reversed')) THEN NULL
             WHEN c.msg_class = 'auth' AND c.txn_type = 'refund' THEN 'credit'
             WHEN c.msg_class = 'auth' AND c.txn_type IN ('purchase', 'cashback', 'cash')
                  AND c.mti LIKE '02%' THEN 'debit'
             WHEN c.msg_class = 'completion' THEN 'debit'
             WHEN c.msg_class = 'reversal' AND c.rule IN ('hold_released', 'posting_reversed')
                  AND o.txn_type = 'refund' THEN 'credit_rev'
             WHEN c.msg_class = 'reversal' AND c.rule IN ('hold_released', 'posting_reversed') THEN 'debit_rev'
           END AS kind,
           CASE WHEN c.msg_class = 'reversal' THEN o.amount_txn - c.amount_txn ELSE c.amount_txn END AS amount
      FROM closed c LEFT JOIN auth_log o ON o.id = c.original_auth_id
  )
  SELECT ARRAY[count(*) FILTER (WHERE kind = 'credit'), count(*) FILTER (WHERE kind = 'credit_rev'),
               count(*) FILTER (WHERE kind = 'debit'), count(*) FILTER (WHERE kind = 'debit_rev'),
               coalesce(sum(amount) FILTER (WHERE kind = 'credit'), 0),
               coalesce(sum(amount) FILTER (WHERE kind = 'credit_rev'), 0),
               coalesce(sum(amount) FILTER (WHERE kind = 'debit'), 0),
               coalesce(sum(amount) FILTER (WHERE kind = 'debit_rev'), 0)]::bigint[]
    INTO v_ours FROM k;
  v_code := CASE WHEN v_ours = p_totals THEN '00' ELSE '95' END;
  UPDATE terminal_reconciliations SET switch_totals = v_ours, response_code = v_code WHERE id = r.id;
  RETURN ROW(v_code, CASE v_code WHEN '00' THEN 'in_balance' ELSE 'out_of_balance' END, r.id, NULL,
             NULL, NULL, 0, NULL, NULL, NULL, NULL, false)::auth_result;
END $$;
