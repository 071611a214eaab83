-- Test helpers (pg_temp: gone with the session).
\set QUIET on
-- Every invariant of the ledger, checked after each operation.
CREATE FUNCTION pg_temp.check_invariants() RETURNS void LANGUAGE plpgsql AS $$
DECLARE r record;
BEGIN
  FOR r IN SELECT entry_id, currency, sum(amount) s FROM journal_lines GROUP BY 1, 2 HAVING sum(amount) <> 0 LOOP
    RAISE EXCEPTION 'invariant: entry % unbalanced in % by %', r.entry_id, r.currency, r.s;
  END LOOP;
  FOR r IN SELECT a.id, a.ledger_balance, coalesce((SELECT sum(amount) FROM journal_lines l WHERE l.account_id = a.id), 0) s
             FROM accounts a LOOP
    IF r.ledger_balance <> r.s THEN RAISE EXCEPTION 'invariant: account % ledger % <> lines %', r.id, r.ledger_balance, r.s; END IF;
  END LOOP;
  FOR r IN SELECT a.id, a.held_amount, coalesce((SELECT sum(amount) FROM holds h WHERE h.account_id = a.id AND h.status = 'active'), 0) s
             FROM accounts a LOOP
    IF r.held_amount <> r.s THEN RAISE EXCEPTION 'invariant: account % held % <> holds %', r.id, r.held_amount, r.s; END IF;
  END LOOP;
  FOR r IN SELECT a.id FROM accounts a WHERE a.kind <> 'internal'
             AND account_available(a) <> (SELECT coalesce(sum(amount), 0) FROM journal_lines l WHERE l.account_id = a.id)
                 - (SELECT coalesce(sum(amount), 0) FROM holds h WHERE h.account_id = a.id AND h.status = 'active')
                 - a.minimum_balance + a.overdraft_limit LOOP
    RAISE EXCEPTION 'invariant: account % available balance wrong', r.id;
  END LOOP;
  FOR r IN SELECT a.id FROM accounts a WHERE a.kind <> 'internal' AND account_available(a) < 0 LOOP
    RAISE EXCEPTION 'invariant: account % overdrawn beyond its overdraft', r.id;
  END LOOP;
END $$;

CREATE FUNCTION pg_temp.eq(got anyelement, want anyelement, what text) RETURNS void LANGUAGE plpgsql AS $$
BEGIN
  IF got IS DISTINCT FROM want THEN RAISE EXCEPTION '%: got %, want %', what, got, want; END IF;
END $$;

-- Card hash of a demo card by id (the demo keeps its PANs for testing).
CREATE FUNCTION pg_temp.h(p_card bigint) RETURNS bytea LANGUAGE sql AS
$$ SELECT pan_hash FROM cards WHERE id = p_card $$;

-- Expect statement to be refused with SQLSTATE class state.
CREATE FUNCTION pg_temp.refused(stmt text, state text, what text) RETURNS void LANGUAGE plpgsql AS $$
BEGIN
  BEGIN
    EXECUTE stmt;
    SET CONSTRAINTS ALL IMMEDIATE;   -- fire deferred checks inside this block
  EXCEPTION WHEN OTHERS THEN
    IF SQLSTATE <> state THEN RAISE EXCEPTION '%: refused with % (%), want %', what, SQLSTATE, SQLERRM, state; END IF;
    RAISE NOTICE 'refused as expected: %: %', what, SQLERRM;
    RETURN;
  END;
  RAISE EXCEPTION '%: NOT refused', what;
END $$;
\set QUIET off
