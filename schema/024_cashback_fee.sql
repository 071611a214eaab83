-- Cash-back at another bank's POS is cash at another bank's POS
-- (PRODUCTS.md: 2% of the amount, minimum 5.00): authorise() (011) charged
-- that fee on cash withdrawals only, so a cash-back there went free
-- (pos.rules, ob-cashback). The fee is on the cash part, which the terminal
-- sends in DE 54 (amount type 40); switchd passes it as the new last
-- argument p_cash_amount (transaction currency, converted at the
-- transaction's rate like the rest). Without it the whole amount is taken
-- as cash. A cash-back at the bank's own POS stays free.
--
-- Two places of authorise() change: its argument list and the fee
-- statement. The function is rewritten from its own definition; the
-- migration fails if either place is not found.
DO $$
DECLARE
  def text := pg_get_functiondef('authorise(text, text, text, text, text, bytea, bigint, smallint, text, text, text,
                                            text, text, date, text, boolean, text, text)'::regprocedure);
  old_args text := 'p_cvv2_result text DEFAULT NULL::text)';
  new_args text := 'p_cvv2_result text DEFAULT NULL::text, p_cash_amount bigint DEFAULT NULL::bigint)';
  old_fee text := $x$    IF p_txn_type = 'cash' THEN
      v_fee := greatest(bp_of(v_amt, pv.fee_foreign_cash_bp),$x$;
  new_fee text := $x$    IF p_txn_type IN ('cash', 'cashback') THEN
      v_fee := greatest(bp_of(CASE WHEN p_txn_type = 'cash' OR p_cash_amount IS NULL THEN v_amt
                                   WHEN v_rate IS NULL THEN least(greatest(p_cash_amount, 0), p_amount)
                                   ELSE round(least(greatest(p_cash_amount, 0), p_amount) * v_rate)::bigint END,
                              pv.fee_foreign_cash_bp),$x$;
BEGIN
  IF position(old_args IN def) = 0 OR position(old_fee IN def) = 0 THEN
    RAISE EXCEPTION 'authorise() is not the one 024 expects';
  END IF;
  DROP FUNCTION authorise(text, text, text, text, text, bytea, bigint, smallint, text, text, text,
                          text, text, date, text, boolean, text, text);
  EXECUTE replace(replace(def, old_args, new_args), old_fee, new_fee);
END $$;
