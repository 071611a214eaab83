-- reverse() as in 006 with two changes.
--
-- 1. A reversal (0400/0420) that arrives after the clearing file posted its
-- transaction (issue 6: "a late reversal after clearing is refunded"):
-- reverse() as in 006, with one more case where the hold is no longer
-- active. When a clearing record matched the authorisation and posted it,
-- the part the terminal did not complete, with its share of the fees, is
-- refunded to the cardholder at once against the scheme settlement account
-- (rule cleared_refunded); the bank recovers it from the acquirer. A
-- clearing reversal of that presentment arriving later would refund twice:
-- clearing_import() sends it to the exceptions queue instead
-- (refunded_by_terminal_reversal, in 017).
--
-- 2. A partial dispense at another bank's ATM keeps the product's fee on
-- the amount dispensed, at its minimum (PRODUCTS.md: 2%, minimum 5.00), not
-- a proportional share of the original fee that could fall below it.

CREATE OR REPLACE FUNCTION reverse(
  p_acquirer_id text, p_terminal_id text,
  p_stan text, p_transmitted text,            -- this reversal's DE 11 / DE 7
  p_orig_stan text, p_orig_transmitted text,  -- the original's, from DE 90
  p_replacement bigint DEFAULT 0,             -- DE 95: amount actually dispensed/kept, txn currency
  p_mti text DEFAULT '0400')
RETURNS auth_result LANGUAGE plpgsql AS $$
DECLARE
  r     auth_result;
  o     auth_log;
  a     accounts;
  h     holds;
  v_id  bigint := nextval(pg_get_serial_sequence('auth_log', 'id'));
  v_day date := (now() AT TIME ZONE (SELECT business_tz FROM bank_settings))::date;
  v_back bigint := 0;      -- principal given back, txn currency
  v_back_acct bigint := 0;
  v_fee_back bigint := 0;
  v_kept_fee bigint;
  v_conv_back bigint := 0;
  v_code text := '00';
  v_rule text;
  v_entry bigint;
  v_cash bigint;
  v_ledger_before bigint;
  v_avail_before bigint;
BEGIN
  r := auth_duplicate('reversal', p_acquirer_id, p_terminal_id, p_stan, p_transmitted, p_replacement);
  IF r.response_code IS NOT NULL THEN RETURN r; END IF;

  SELECT * INTO o FROM auth_log WHERE acquirer_id = p_acquirer_id AND terminal_id = p_terminal_id
     AND stan = p_orig_stan AND transmitted = p_orig_transmitted AND msg_class = 'auth';
  IF NOT FOUND THEN
    v_code := '25'; v_rule := 'original_not_found';
  ELSIF o.response_code <> '00' OR o.txn_type = 'balance' THEN
    v_rule := 'original_not_approved';       -- nothing to undo; acknowledge
  ELSIF p_replacement < 0 OR p_replacement > o.amount_txn THEN
    v_code := '13'; v_rule := 'invalid_replacement';
  ELSE
    -- Lock order card, account, then re-read the original under the lock.
    PERFORM 1 FROM cards WHERE id = o.card_id FOR NO KEY UPDATE;
    SELECT * INTO a FROM accounts WHERE id = o.account_id FOR NO KEY UPDATE;
    SELECT * INTO o FROM auth_log WHERE id = o.id;
    v_ledger_before := a.ledger_balance;
    v_avail_before := account_available(a);
    v_back := o.amount_txn - o.reversed_amount - p_replacement;
    IF v_back <= 0 THEN
      v_rule := 'already_reversed';
    ELSE
      -- The undispensed part and its share of each fee come back.
      v_back_acct := (o.amount_acct * v_back) / o.amount_txn;
      v_fee_back  := (o.fee * v_back) / o.amount_txn;
      -- A partial dispense at another bank's ATM: the fee the cardholder
      -- keeps paying is the product's fee on what was dispensed (2%, at
      -- least 5.00: PRODUCTS.md), never more than was charged; the rest
      -- comes back, less what earlier reversals of it gave back already.
      IF p_replacement > 0 AND o.txn_type = 'cash' AND NOT o.own_terminal AND o.fee > 0 THEN
        SELECT least(o.fee, greatest(bp_of((o.amount_acct * p_replacement) / o.amount_txn, pv.fee_foreign_cash_bp),
                                     usd_figure_in(pv.fee_foreign_cash_min, o.currency_acct,
                                                   (SELECT khr_per_usd_reference FROM bank_settings))))
          INTO v_kept_fee FROM product_versions pv WHERE pv.id = o.fee_version_id;
        IF FOUND THEN
          v_fee_back := greatest(o.fee - v_kept_fee
                                 - (SELECT coalesce(sum(x.fee), 0) FROM auth_log x
                                     WHERE x.original_auth_id = o.id AND x.msg_class = 'reversal'
                                       AND x.response_code = '00'), 0);
        END IF;
      END IF;
      v_conv_back := (o.fee_conversion * v_back) / o.amount_txn;
      IF o.hold_id IS NOT NULL THEN
        SELECT * INTO h FROM holds WHERE id = o.hold_id FOR UPDATE;
        IF h.status = 'active' THEN
          IF p_replacement = 0 AND o.reversed_amount = 0 THEN
            UPDATE holds SET status = 'reversed', closed_at = now() WHERE id = h.id;
          ELSE
            UPDATE holds SET amount = greatest(amount - v_back_acct - v_fee_back - v_conv_back, 0),
                             fee = greatest(fee - v_fee_back - v_conv_back, 0)
             WHERE id = h.id;
          END IF;
          v_rule := 'hold_released';
        ELSIF EXISTS (SELECT 1 FROM clearing_records c WHERE c.matched_auth_id = o.id
                         AND c.outcome IN ('matched', 'late') AND c.entry_id IS NOT NULL) THEN
          -- Cleared already: the presentment was posted, so what the terminal
          -- says it did not pay out is refunded from the scheme settlement
          -- account (the bank recovers it from the acquirer by chargeback).
          INSERT INTO journal_entries (business_day, kind, auth_id, description)
            VALUES (v_day, 'reversal_after_clearing', v_id, 'refund of a cleared transaction, auth ' || o.id)
            RETURNING id INTO v_entry;
          PERFORM post_transfer(v_entry, a.id, a.currency, v_back_acct,
                                internal_account('scheme_settlement', o.currency_txn), o.currency_txn, -v_back);
          v_rule := 'cleared_refunded';
        ELSE
          v_rule := 'hold_already_closed';   -- expired: a late presentment will settle it
        END IF;
      ELSIF o.entry_id IS NOT NULL THEN
        INSERT INTO journal_entries (business_day, kind, auth_id, reverses_entry_id)
          VALUES (v_day, 'reversal', v_id, o.entry_id) RETURNING id INTO v_entry;
        IF o.txn_type = 'cash' THEN
          v_cash := (SELECT CASE o.currency_txn WHEN 840 THEN cash_account_usd WHEN 116 THEN cash_account_khr END
                       FROM terminals WHERE terminal_id = o.terminal_id);
          PERFORM post_transfer(v_entry, a.id, a.currency, v_back_acct, v_cash, o.currency_txn, -v_back);
        ELSIF o.txn_type = 'refund' THEN
          PERFORM post_transfer(v_entry, a.id, a.currency, -v_back_acct,
                                internal_account('scheme_settlement', o.currency_txn), o.currency_txn, v_back);
        END IF;
        v_rule := 'posting_reversed';
      END IF;
      -- Both postings (reversed at once, refunded after clearing) give the
      -- fees' share back in the same entry.
      IF v_entry IS NOT NULL AND v_fee_back > 0 THEN
        PERFORM post_transfer(v_entry, a.id, a.currency, v_fee_back,
                              internal_account('fee_income', a.currency), a.currency, -v_fee_back, 'fee');
      END IF;
      IF v_entry IS NOT NULL AND v_conv_back > 0 THEN
        PERFORM post_transfer(v_entry, a.id, a.currency, v_conv_back,
                              internal_account('fx_income', a.currency), a.currency, -v_conv_back, 'conversion_fee');
      END IF;
      UPDATE auth_log SET reversed_amount = reversed_amount + v_back WHERE id = o.id;
      IF o.channel IS NOT NULL THEN
        UPDATE daily_usage SET amount = greatest(amount - v_back, 0),
               count = CASE WHEN o.reversed_amount + v_back = o.amount_txn THEN greatest(count - 1, 0) ELSE count END
         WHERE card_id = o.card_id AND business_day = o.business_day AND channel = o.channel
           AND currency = o.currency_txn;
      END IF;
      SELECT * INTO a FROM accounts WHERE id = a.id;
    END IF;
  END IF;

  INSERT INTO auth_log (id, business_day, msg_class, mti, txn_type, acquirer_id, terminal_id, stan,
      transmitted, card_id, pan_hash, account_id, amount_txn, currency_txn, amount_acct, currency_acct,
      fee, fee_conversion, ledger_before, ledger_after, available_before, available_after,
      response_code, rule, entry_id, hold_id, original_auth_id, channel)
  VALUES (v_id, v_day, 'reversal', p_mti, 'reversal', p_acquirer_id, p_terminal_id, p_stan,
      p_transmitted, o.card_id, o.pan_hash, o.account_id, p_replacement, o.currency_txn, v_back_acct,
      o.currency_acct, v_fee_back, v_conv_back, v_ledger_before, a.ledger_balance, v_avail_before,
      account_available(a), v_code, v_rule, v_entry, o.hold_id, o.id, o.channel);

  RETURN ROW(v_code, v_rule, v_id, NULL, v_back_acct, o.currency_acct, v_fee_back + v_conv_back,
             a.ledger_balance, account_available(a), o.hold_id, v_entry, false)::auth_result;
END $$;
