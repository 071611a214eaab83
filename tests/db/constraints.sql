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
ROLLBACK;
