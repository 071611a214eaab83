-- The money rule at the deadline (WIRE.md, ARCHITECTURE.md): at
-- txn_deadline_ms switchd answers the terminal 91, and an approval that
-- commits after that is reversed by switchd itself. A switchd killed in
-- between could not: the approval stood, the ATM had dispensed nothing and
-- had been told 91, so it owed no reversal (tests/crash/
-- deadline_kill_test.sh: the account row locked, the deadline passes,
-- switchd is killed, the orphaned session commits).
--
-- switchd now passes its deadline (p_deadline, wall clock); authorise()
-- refuses to commit an approval after it: the transaction is rolled back,
-- nothing is held, posted, counted or logged, and the error reaches the
-- switch (if it is still there) as a decline. Declines commit as before.
-- What is left is the commit itself (the WAL flush after this check), a
-- window of about a millisecond instead of the whole lock wait; clocks of
-- switchd's and the database's hosts must agree (NTP) to well under the
-- deadline.
DO $$
DECLARE
  def text := pg_get_functiondef('authorise(text, text, text, text, text, bytea, bigint, smallint, text, text, text,
                                            text, text, date, text, boolean, text, text, bigint)'::regprocedure);
  old_args text := 'p_cash_amount bigint DEFAULT NULL::bigint)';
  new_args text := 'p_cash_amount bigint DEFAULT NULL::bigint, p_deadline timestamp with time zone DEFAULT NULL::timestamp with time zone)';
  old_log text := $x$  INSERT INTO auth_log (id, business_day, msg_class, mti, txn_type, proc_code, acquirer_id, terminal_id,$x$;
  new_log text := $x$  IF v_code = '00' AND p_deadline IS NOT NULL AND clock_timestamp() > p_deadline THEN
    RAISE EXCEPTION 'approval after the switch''s deadline (%): rolled back', p_deadline
      USING ERRCODE = 'SW001', HINT = 'the terminal was answered 91; nothing is held or posted';
  END IF;
  INSERT INTO auth_log (id, business_day, msg_class, mti, txn_type, proc_code, acquirer_id, terminal_id,$x$;
BEGIN
  IF position(old_args IN def) = 0 OR position(old_log IN def) = 0 THEN
    RAISE EXCEPTION 'authorise() is not the one 025 expects';
  END IF;
  DROP FUNCTION authorise(text, text, text, text, text, bytea, bigint, smallint, text, text, text,
                          text, text, date, text, boolean, text, text, bigint);
  EXECUTE replace(replace(def, old_args, new_args), old_log, new_log);
END $$;
