-- Benchmark data for scripts/bench (db section): 100,000 Visa Platinum
-- cards, each on its own USD account with USD 1,000,000, PAN hash =
-- sha256(card number i) so the pgbench script can address card i.
INSERT INTO customers (id, full_name) SELECT g, 'Bench ' || g FROM generate_series(1, 100000) g;
SELECT setval('customers_id_seq', 100000);
INSERT INTO accounts (number, customer_id, kind, currency, minimum_balance)
SELECT 'B' || g, g, 'savings', 840, 1000 FROM generate_series(1, 100000) g;
-- Opening deposits as one entry of 100,001 lines. The per-line balance
-- check and balance-cache triggers would make this quadratic, so this
-- superuser-only setup disables triggers and sets the caches itself to the
-- same values (the entry still balances; ledger_balance = sum of lines).
SET session_replication_role = replica;
INSERT INTO journal_entries (id, business_day, kind, description)
  VALUES (1000000, current_date, 'deposit', 'bench deposits');
SELECT setval(pg_get_serial_sequence('journal_entries', 'id'), 1000000);
INSERT INTO journal_lines (entry_id, account_id, currency, amount)
SELECT 1000000, a.id, 840, 100000000 FROM accounts a WHERE a.number LIKE 'B%'
UNION ALL
SELECT 1000000, internal_account('scheme_settlement', 840::smallint), 840, -100000000::bigint * 100000;
UPDATE accounts SET ledger_balance = ledger_balance + 100000000 WHERE number LIKE 'B%';
UPDATE accounts SET ledger_balance = ledger_balance - 100000000::bigint * 100000
 WHERE id = internal_account('scheme_settlement', 840::smallint);
SET session_replication_role = origin;
INSERT INTO cards (pan_hash, pan_enc, pan_masked, account_id, customer_id, product_id, expiry)
SELECT sha256(g::text::bytea), '\x00', '453910******' || lpad((g % 10000)::text, 4, '0'), a.id, g,
       (SELECT id FROM products WHERE code = 'VISA_PLATINUM'), current_date + 1000
  FROM generate_series(1, 100000) g JOIN accounts a ON a.number = 'B' || g;
INSERT INTO terminals (terminal_id, kind, institution_id, mcc, location)
SELECT 'BPOS0001', 'pos', id, '5411', 'bench' FROM institutions WHERE is_self;
VACUUM ANALYZE;
