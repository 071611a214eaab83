-- Terminal reconciliation (0500 / 0510, WIRE.md): at the end of its batch a
-- POS terminal sends its totals (DE 74-77 counts, DE 86-89 amounts); the
-- switch compares them with what it approved for that terminal since its
-- previous reconciliation and answers 00 (in balance) or 95 (reconcile
-- error). Both sides' totals are kept, so an operator can see the
-- difference; the batch closes either way (the next 0500 counts from here).
--
-- The batch is every approved message of the terminal not yet in a
-- reconciliation (auth_log.reconciliation_id), so one that commits while
-- an 0500 is being answered falls in the next batch, never in none.
--
-- What counts, per the terminal's settlement currency (DE 50, default USD):
--   debits          approved 0200 purchases, cash-back and cash, and
--                   approved 0220 completions (at their completed amount)
--   credits         approved 0200 refunds
--   debit/credit reversals   approved 0400/0420 that gave something back,
--                   of a debit / a credit, at the amount given back
-- Pre-authorisations (0100) and balance inquiries are not financial.

ALTER TABLE auth_log ADD COLUMN reconciliation_id bigint;
CREATE INDEX auth_log_unreconciled ON auth_log (acquirer_id, terminal_id)
  WHERE reconciliation_id IS NULL AND response_code = '00';

CREATE TABLE terminal_reconciliations (
  id               bigserial PRIMARY KEY,
  created_at       timestamptz NOT NULL DEFAULT now(),
  business_day     date NOT NULL,
  acquirer_id      text NOT NULL,
  terminal_id      text NOT NULL,
  stan             text NOT NULL,
  transmitted      text NOT NULL,
  currency         smallint NOT NULL,
  terminal_totals  bigint[] NOT NULL CHECK (cardinality(terminal_totals) = 8),
  switch_totals    bigint[] NOT NULL CHECK (cardinality(switch_totals) = 8),
  response_code    char(2) NOT NULL,
  UNIQUE (acquirer_id, terminal_id, stan, transmitted)
);
COMMENT ON COLUMN terminal_reconciliations.terminal_totals IS
  'credits, credit reversals, debits, debit reversals (counts: DE 74-77), then their amounts (DE 86-89), minor units';

-- switchd's call for an 0500. A repeat (same DE 32, 41, 11, 7) gets the
-- first answer; the same key with other totals 94. auth_id in the result
-- is the reconciliation's id.
CREATE FUNCTION terminal_reconcile(p_acquirer_id text, p_terminal_id text, p_stan text,
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
  -- One reconciliation of a terminal at a time: the batch boundary moves.
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
  -- Close the batch and count it in one statement: exactly the rows that
  -- get this reconciliation's id are the ones counted.
  WITH closed AS (
    UPDATE auth_log l SET reconciliation_id = r.id
     WHERE l.acquirer_id = p_acquirer_id AND l.terminal_id = p_terminal_id
       AND l.reconciliation_id IS NULL AND l.response_code = '00'
       AND coalesce(l.currency_txn, p_currency) = p_currency
    RETURNING l.msg_class, l.txn_type, l.mti, l.rule, l.amount_txn, l.original_auth_id
  ), k AS (
    SELECT CASE
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
