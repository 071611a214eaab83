-- The deadline rule of 025 for cardless cash. voucher_redeem() decides a
-- withdrawal as authorise() does: switchd answers the ATM 91 at its
-- deadline, and a redemption that committed after that would leave the
-- voucher redeemed and the ATM's cash account charged for notes that never
-- came out, with no reversal owed by the ATM (it was told 91). A switchd
-- alive at that moment reverses what commits late; one killed in between
-- could not.
--
-- switchd now passes its deadline (p_deadline, wall clock) and
-- voucher_redeem() refuses to commit a redemption after it: the
-- transaction is rolled back (SQLSTATE SW001), the voucher stays active
-- with its tries as they were, nothing is posted or logged. Declines
-- (wrong code, amount, expired...) commit as before: a wrong code still
-- counts a try.
--
-- pin_change() and complete_preauth() keep no deadline: a PIN change moves
-- no money, and a completion is an advice, which switchd never answers 91
-- (the terminal repeats it until it is recorded).
DO $$
DECLARE
  def text := pg_get_functiondef('voucher_redeem(text, text, text, text, text, boolean, bigint, smallint)'::regprocedure);
  old_args text := 'p_amount bigint, p_currency smallint)';
  new_args text := 'p_amount bigint, p_currency smallint, p_deadline timestamp with time zone DEFAULT NULL::timestamp with time zone)';
  old_log text := $x$  INSERT INTO auth_log (id, business_day, msg_class, txn_type, acquirer_id, terminal_id, stan, transmitted,$x$;
  new_log text := $x$  IF v_code = '00' AND p_deadline IS NOT NULL AND clock_timestamp() > p_deadline THEN
    RAISE EXCEPTION 'redemption after the switch''s deadline (%): rolled back', p_deadline
      USING ERRCODE = 'SW001', HINT = 'the ATM was answered 91; the voucher is still active';
  END IF;
  INSERT INTO auth_log (id, business_day, msg_class, txn_type, acquirer_id, terminal_id, stan, transmitted,$x$;
BEGIN
  IF position(old_args IN def) = 0 OR position(old_log IN def) = 0 THEN
    RAISE EXCEPTION 'voucher_redeem() is not the one 028 expects';
  END IF;
  DROP FUNCTION voucher_redeem(text, text, text, text, text, boolean, bigint, smallint);
  EXECUTE replace(replace(def, old_args, new_args), old_log, new_log);
END $$;
