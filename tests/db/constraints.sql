-- Each rule the database enforces, proven by a refusal (and the control:
-- the same operation done correctly is accepted).
SET client_min_messages = notice;
BEGIN;
SELECT pg_temp.check_invariants();

-- 1. A journal entry whose lines do not sum to zero per currency.
INSERT INTO journal_entries (id, business_day, kind) VALUES (900001, current_date, 'test');
SELECT pg_temp.refused($$INSERT INTO journal_lines (entry_id, account_id, currency, amount)
  VALUES (900001, (SELECT id FROM accounts WHERE number='100000011'), 840, 100),
         (900001, internal_account('fee_income', 840::smallint), 840, -99)$$, '23514', 'unbalanced entry');
-- balanced in total but not per currency
SELECT pg_temp.refused($$INSERT INTO journal_lines (entry_id, account_id, currency, amount)
  VALUES (900001, (SELECT id FROM accounts WHERE number='100000011'), 840, 100),
         (900001, internal_account('fee_income', 116::smallint), 116, -100)$$, '23514', 'unbalanced per currency');
-- a line in the wrong currency for its account
SELECT pg_temp.refused($$INSERT INTO journal_lines (entry_id, account_id, currency, amount)
  VALUES (900001, (SELECT id FROM accounts WHERE number='100000011'), 116, 100)$$, '23514', 'line currency');
-- control: a balanced entry is accepted
INSERT INTO journal_lines (entry_id, account_id, currency, amount)
  VALUES (900001, (SELECT id FROM accounts WHERE number='100000011'), 840, 100),
         (900001, internal_account('fee_income', 840::smallint), 840, -100);
SET CONSTRAINTS ALL IMMEDIATE;
SET CONSTRAINTS ALL DEFERRED;
SELECT pg_temp.check_invariants();

-- 2. UPDATE or DELETE of posted lines (and entries), and TRUNCATE.
SELECT pg_temp.refused('UPDATE journal_lines SET amount = amount + 1 WHERE entry_id = 900001', '23001', 'update line');
SELECT pg_temp.refused('DELETE FROM journal_lines WHERE entry_id = 900001', '23001', 'delete line');
SELECT pg_temp.refused('UPDATE journal_entries SET kind = $x$y$x$ WHERE id = 900001', '23001', 'update entry');
SELECT pg_temp.refused('DELETE FROM journal_entries WHERE id = 900001', '23001', 'delete entry');
SELECT pg_temp.refused('TRUNCATE journal_lines CASCADE', '23001', 'truncate lines');

-- 3. A negative hold, and a hold shrinking below zero.
SELECT pg_temp.refused($$INSERT INTO holds (account_id, currency, amount, original_amount, expires_at)
  VALUES ((SELECT id FROM accounts WHERE number='100000011'), 840, -1, 0, now())$$, '23514', 'negative hold');
INSERT INTO holds (id, account_id, currency, amount, original_amount, expires_at)
  VALUES (900001, (SELECT id FROM accounts WHERE number='100000011'), 840, 10, 10, now() + interval '1 day');
SELECT pg_temp.refused('UPDATE holds SET amount = -5 WHERE id = 900001', '23514', 'hold below zero');
SELECT pg_temp.check_invariants();

-- 4. A card without an account (NULL, or one that does not exist).
SELECT pg_temp.refused($$INSERT INTO cards (pan_hash, pan_enc, pan_masked, account_id, customer_id, product_id, expiry)
  VALUES (decode(repeat('ab', 32), 'hex'), '\x00', '123456******1234', NULL, 1, 1, '2030-01-31')$$, '23502', 'card without account');
SELECT pg_temp.refused($$INSERT INTO cards (pan_hash, pan_enc, pan_masked, account_id, customer_id, product_id, expiry)
  VALUES (decode(repeat('ab', 32), 'hex'), '\x00', '123456******1234', 999999, 1, 1, '2030-01-31')$$, '23503', 'card on missing account');
SELECT pg_temp.refused($$UPDATE cards SET account_id = NULL WHERE id = 1$$, '23502', 'card losing its account');
SELECT pg_temp.refused($$DELETE FROM accounts WHERE id = (SELECT account_id FROM cards WHERE id = 1)$$, '23503', 'account under a card deleted');
-- a clear PAN does not fit the masked column
SELECT pg_temp.refused($$UPDATE cards SET pan_masked = '4539100000001123' WHERE id = 1$$, '23514', 'clear PAN as masked');

-- 5. Audit log is append-only.
SELECT pg_temp.refused($$DELETE FROM audit_log$$, '23001', 'delete audit');

-- 6. The keys checked per statement (migration 027) instead of row by row.
-- a line on an account that does not exist
SELECT pg_temp.refused($$INSERT INTO journal_lines (entry_id, account_id, currency, amount)
  VALUES (900001, 999999, 840, 100), (900001, internal_account('fee_income', 840::smallint), 840, -100)$$,
  '23503', 'line on a missing account');
-- an account with posted lines is not deleted (nor its customer, nor its currency)
SELECT pg_temp.refused($$DELETE FROM accounts WHERE id = internal_account('fee_income', 840::smallint)$$,
  '23503', 'account with lines deleted');
-- a clearing record naming a file, authorisation, entry or record that does not exist
INSERT INTO clearing_files (id, scheme, file_id, file_sha256, business_day)
  VALUES (900001, 'visa', 'T027', '\x027027', current_date);
INSERT INTO clearing_records (id, file_id, seq, byte_offset, kind, amount, currency, outcome, entry_id)
  VALUES (900001, 900001, 1, 0, 'presentment', 100, 840, 'force', 900001);
SELECT pg_temp.refused($$INSERT INTO clearing_records (file_id, seq, byte_offset, kind, amount, currency, outcome)
  VALUES (999999, 1, 0, 'presentment', 100, 840, 'exception')$$, '23503', 'record of a missing file');
SELECT pg_temp.refused($$INSERT INTO clearing_records (file_id, seq, byte_offset, kind, amount, currency, outcome,
  matched_auth_id) VALUES (900001, 2, 0, 'presentment', 100, 840, 'matched', 999999999)$$,
  '23503', 'record of a missing authorisation');
SELECT pg_temp.refused($$INSERT INTO clearing_records (file_id, seq, byte_offset, kind, amount, currency, outcome,
  entry_id) VALUES (900001, 2, 0, 'presentment', 100, 840, 'force', 999999999)$$, '23503', 'record of a missing entry');
SELECT pg_temp.refused($$INSERT INTO clearing_records (file_id, seq, byte_offset, kind, amount, currency, outcome,
  reverses_record_id) VALUES (900001, 2, 0, 'presentment_reversal', 100, 840, 'reversed', 999999999)$$,
  '23503', 'reversal of a missing record');
SELECT pg_temp.refused($$UPDATE clearing_records SET entry_id = 999999999 WHERE id = 900001$$,
  '23503', 'record pointed at a missing entry');
-- what a clearing record names is not deleted
SELECT pg_temp.refused($$DELETE FROM clearing_files WHERE id = 900001$$, '23503', 'file with records deleted');
INSERT INTO clearing_records (file_id, seq, byte_offset, kind, amount, currency, outcome, reverses_record_id)
  VALUES (900001, 2, 0, 'presentment_reversal', 100, 840, 'reversed', 900001);
SELECT pg_temp.refused($$DELETE FROM clearing_records WHERE id = 900001$$, '23503', 'reversed record deleted');
SELECT pg_temp.check_invariants();

-- 7. The bulk balance check (ledger.bulk, as clearing_import() sets it):
-- one unbalanced entry among many, in any order of checking, is found
-- and named; balanced ones pass.
SELECT pg_temp.refused($q$
  DO $x$ BEGIN
    PERFORM set_config('ledger.bulk', 'on', true);
    INSERT INTO journal_entries (id, business_day, kind)
      SELECT g, current_date, 'test' FROM generate_series(900100, 900160) g ORDER BY g DESC;
    INSERT INTO journal_lines (entry_id, account_id, currency, amount)
      SELECT g, a, 840, CASE WHEN a = internal_account('fee_income', 840::smallint) THEN -5 ELSE 5 END
             + CASE WHEN g = 900150 AND a <> internal_account('fee_income', 840::smallint) THEN 1 ELSE 0 END
        FROM generate_series(900100, 900160) g,
             unnest(ARRAY[(SELECT id FROM accounts WHERE number = '100000011'),
                          internal_account('fee_income', 840::smallint)]) a;
  END $x$$q$, '23514', 'bulk: one unbalanced entry of 61');
DO $$ BEGIN
  PERFORM set_config('ledger.bulk', 'on', true);
  INSERT INTO journal_entries (id, business_day, kind)
    SELECT g, current_date, 'test' FROM generate_series(900200, 900260) g ORDER BY g DESC;
  INSERT INTO journal_lines (entry_id, account_id, currency, amount)
    SELECT g, a, 840, CASE WHEN a = internal_account('fee_income', 840::smallint) THEN -5 ELSE 5 END
      FROM generate_series(900200, 900260) g,
           unnest(ARRAY[(SELECT id FROM accounts WHERE number = '100000011'),
                        internal_account('fee_income', 840::smallint)]) a;
  SET CONSTRAINTS ALL IMMEDIATE;
  PERFORM set_config('ledger.bulk', 'off', true);
END $$;
SET CONSTRAINTS ALL DEFERRED;
SELECT pg_temp.check_invariants();

-- 8. With ledger.bulk on, a statement's entries are checked as one range
-- (migration 032): one queued check per statement, none per entry, gone
-- once it has run.
DO $$
DECLARE q text;
BEGIN
  PERFORM set_config('ledger.bulk', 'on', true);
  INSERT INTO journal_entries (id, business_day, kind)
    SELECT g, current_date, 'test' FROM generate_series(900300, 900310) g;
  INSERT INTO journal_entries (id, business_day, kind) VALUES (900320, current_date, 'test');
  INSERT INTO journal_lines (entry_id, account_id, currency, amount)
    SELECT g, a, 840, CASE WHEN a = internal_account('fee_income', 840::smallint) THEN -5 ELSE 5 END
      FROM (SELECT generate_series(900300, 900310) UNION ALL SELECT 900320) e(g),
           unnest(ARRAY[(SELECT id FROM accounts WHERE number = '100000011'),
                        internal_account('fee_income', 840::smallint)]) a;
  SELECT string_agg(lo || '-' || hi, ' ' ORDER BY lo) INTO q FROM ledger_bulk_checks;
  IF q IS DISTINCT FROM '900300-900310 900320-900320' THEN
    RAISE EXCEPTION 'bulk checks queued: % (want one per statement)', q;
  END IF;
  SET CONSTRAINTS ALL IMMEDIATE;
  IF EXISTS (SELECT 1 FROM ledger_bulk_checks) THEN
    RAISE EXCEPTION 'bulk checks left after they ran';
  END IF;
  PERFORM set_config('ledger.bulk', 'off', true);
END $$;
SET CONSTRAINTS ALL DEFERRED;
-- The unbalanced entry in the first of two statements' ranges is found.
SELECT pg_temp.refused($q$
  DO $x$ BEGIN
    PERFORM set_config('ledger.bulk', 'on', true);
    INSERT INTO journal_entries (id, business_day, kind) VALUES (900400, current_date, 'test');
    INSERT INTO journal_entries (id, business_day, kind) VALUES (900401, current_date, 'test');
    INSERT INTO journal_lines (entry_id, account_id, currency, amount)
      VALUES (900400, (SELECT id FROM accounts WHERE number = '100000011'), 840, 7),
             (900400, internal_account('fee_income', 840::smallint), 840, -6),
             (900401, (SELECT id FROM accounts WHERE number = '100000011'), 840, 7),
             (900401, internal_account('fee_income', 840::smallint), 840, -7);
  END $x$$q$, '23514', 'bulk: unbalanced entry of the first statement');
-- An entry made without ledger.bulk keeps its own check when the setting
-- is turned on before its lines.
SELECT pg_temp.refused($q$
  DO $x$ BEGIN
    INSERT INTO journal_entries (id, business_day, kind) VALUES (900500, current_date, 'test');
    PERFORM set_config('ledger.bulk', 'on', true);
    INSERT INTO journal_lines (entry_id, account_id, currency, amount)
      VALUES (900500, (SELECT id FROM accounts WHERE number = '100000011'), 840, 7);
  END $x$$q$, '23514', 'entry made before ledger.bulk, unbalanced');
SELECT pg_temp.check_invariants();
ROLLBACK;
