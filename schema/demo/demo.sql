-- The demo bank, loaded by `switchctl load demo` (one transaction).
-- switchctl sets cardswitch.pan_hmac_key / cardswitch.pan_enc_key (hex) first:
-- pan_hash = HMAC-SHA-256(key, PAN), pan_enc = pgp_sym_encrypt (AES-256).
--
-- PIN data is not set here: PIN verification data (PVV, PVKI, PVK reference)
-- comes from hsm-sim, never from clear keys in SQL. `switchctl load demo
-- --hsm HOST:PORT` fills it after this file (switch/switchctl_pin.c).

CREATE FUNCTION pg_temp.luhn(digits text) RETURNS text LANGUAGE sql IMMUTABLE AS $$
  SELECT digits || ((10 - (sum(d) % 10)) % 10)::text
    FROM (SELECT CASE WHEN i % 2 = 1 THEN CASE WHEN v * 2 > 9 THEN v * 2 - 9 ELSE v * 2 END ELSE v END AS d
            FROM (SELECT i, substr(reverse(digits), i, 1)::int AS v
                    FROM generate_series(1, length(digits)) i) x) y
$$;

INSERT INTO institutions (name, acquirer_id) VALUES ('Other Bank (via network)', '00000000002');

INSERT INTO bin_ranges (institution_id, scheme, low, high)
SELECT i.id, b.scheme::card_scheme, b.low, b.high FROM institutions i,
  (VALUES ('visa', '45391000', '45391999'), ('mastercard', '52741000', '52741999'),
          ('unionpay', '62128000', '62128999')) AS b(scheme, low, high)
 WHERE i.is_self;

INSERT INTO exchange_rates (from_currency, to_currency, rate, effective_from) VALUES
  (840, 116, 4100.00000000, date_trunc('day', now() AT TIME ZONE 'Asia/Phnom_Penh') AT TIME ZONE 'Asia/Phnom_Penh'),
  (116, 840, 0.00024155,    date_trunc('day', now() AT TIME ZONE 'Asia/Phnom_Penh') AT TIME ZONE 'Asia/Phnom_Penh');

INSERT INTO customers (full_name, phone) VALUES
  ('Sok Dara', '+85512345601'), ('Chan Sreymom', '+85512345602'), ('Kim Vuthy', '+85512345603'),
  ('Heng Bopha', '+85512345604'), ('Lim Sophal', '+85512345605'), ('Touch Kanha', '+85512345606'),
  ('Meas Rithy', '+85512345607'), ('Ouk Channa', '+85512345608');

-- Each customer: a USD account and a KHR account; opening deposits are
-- posted from the scheme settlement account so the ledger stays balanced.
INSERT INTO accounts (number, customer_id, kind, currency, minimum_balance, overdraft_limit)
SELECT '1000' || lpad(c.id::text, 4, '0') || cur.sfx, c.id,
       CASE WHEN c.id % 2 = 0 THEN 'current' ELSE 'savings' END::account_kind, cur.code,
       CASE WHEN cur.code = 840 THEN 1000 ELSE 4000000 END,
       CASE WHEN c.id = 4 AND cur.code = 840 THEN 50000 ELSE 0 END
  FROM customers c, (VALUES (840::smallint, '1'), (116::smallint, '2')) AS cur(code, sfx);

WITH e AS (INSERT INTO journal_entries (business_day, kind, description)
           VALUES ((now() AT TIME ZONE 'Asia/Phnom_Penh')::date, 'deposit', 'demo opening deposits') RETURNING id)
INSERT INTO journal_lines (entry_id, account_id, currency, amount, line_kind)
SELECT e.id, x.account_id, x.currency, x.amount, 'principal' FROM e,
  (SELECT a.id AS account_id, a.currency, CASE WHEN a.currency = 840 THEN 500000 ELSE 2000000000 END AS amount
     FROM accounts a WHERE a.kind <> 'internal'
   UNION ALL
   SELECT internal_account('scheme_settlement', a.currency), a.currency,
          -sum(CASE WHEN a.currency = 840 THEN 500000 ELSE 2000000000 END)
     FROM accounts a WHERE a.kind <> 'internal' GROUP BY a.currency) x;

-- Cards: customer n gets a card of the n-th product on the USD account; the
-- first two also get a KHR-account card, customer 1 a supplementary card.
CREATE TEMP TABLE demo_pans (customer_id bigint, account_id bigint, product_id int, pan text,
                             is_primary boolean, per_card_limit bigint) ON COMMIT DROP;
INSERT INTO demo_pans
SELECT cu.id, a.id, p.id,
       pg_temp.luhn(CASE p.scheme WHEN 'visa' THEN '45391' WHEN 'mastercard' THEN '52741' ELSE '62128' END
                    || lpad((p.id * 100 + cu.id * 10 + k.n)::text, 10, '0')),
       k.n <> 2, CASE WHEN k.n = 2 THEN 20000 END
  FROM customers cu
  JOIN products p ON p.id = (SELECT id FROM products ORDER BY id OFFSET (cu.id - 1) % 8 LIMIT 1)
  JOIN LATERAL (VALUES (0), (1), (2)) AS k(n) ON k.n = 0 OR (k.n = 1 AND cu.id <= 2) OR (k.n = 2 AND cu.id = 1)
  JOIN accounts a ON a.customer_id = cu.id AND a.currency = CASE WHEN k.n = 1 THEN 116 ELSE 840 END;

INSERT INTO cards (pan_hash, pan_enc, pan_masked, account_id, customer_id, product_id, is_primary,
                   expiry, service_code, status, customer_daily_limit)
SELECT hmac(convert_to(d.pan, 'UTF8'), decode(current_setting('cardswitch.pan_hmac_key'), 'hex'), 'sha256'),
       pgp_sym_encrypt(d.pan, current_setting('cardswitch.pan_enc_key'), 'cipher-algo=aes256'),
       left(d.pan, 6) || repeat('*', length(d.pan) - 10) || right(d.pan, 4),
       d.account_id, d.customer_id, d.product_id, d.is_primary,
       DATE '2030-11-30', '201', 'active',  -- YYMM 3011, as printed in atm-sim/demo-cards.txt
       d.per_card_limit
  FROM demo_pans d;

-- The demo PANs, for the operator to type into the simulators. Test cards
-- only: this table exists in demo databases and never in production.
CREATE TABLE demo_card_numbers AS
  SELECT c.id AS card_id, d.pan, p.code AS product FROM demo_pans d
    JOIN cards c ON c.pan_hash = hmac(convert_to(d.pan, 'UTF8'), decode(current_setting('cardswitch.pan_hmac_key'), 'hex'), 'sha256')
    JOIN products p ON p.id = d.product_id;

INSERT INTO merchants (merchant_id, name, mcc) VALUES
  ('MER000000000001', 'Lucky Supermarket', '5411'),
  ('MER000000000002', 'Brown Coffee',      '5814'),
  ('MER000000000003', 'Tela Fuel',         '5541'),
  ('MER000000000004', 'StreamFlix (recurring)', '4899');

-- ATMs with their own cash accounts (loaded with cash: a credit-normal
-- asset account holding cash shows a negative balance, docs/database.md).
INSERT INTO accounts (number, kind, currency, purpose)
SELECT 'GL-ATMCASH-' || t.tid || '-' || c.alpha, 'internal', c.code, 'atm_cash:' || t.tid
  FROM (VALUES ('ATM00001'), ('ATM00002'), ('ATM00003')) AS t(tid), currencies c;

INSERT INTO terminals (terminal_id, kind, institution_id, mcc, location, cash_account_usd, cash_account_khr)
SELECT t.tid, 'atm', i.id, '6011', t.loc,
       (SELECT id FROM accounts WHERE purpose = 'atm_cash:' || t.tid AND currency = 840),
       (SELECT id FROM accounts WHERE purpose = 'atm_cash:' || t.tid AND currency = 116)
  FROM institutions i, (VALUES ('ATM00001', 'Head office, Norodom Blvd, Phnom Penh'),
                               ('ATM00002', 'Aeon Mall, Phnom Penh'),
                               ('ATM00003', 'Pub Street, Siem Reap')) AS t(tid, loc)
 WHERE i.is_self;

INSERT INTO terminals (terminal_id, kind, institution_id, merchant_id, mcc, location)
SELECT t.tid, 'pos', i.id, m.id, m.mcc, t.loc
  FROM institutions i, (VALUES ('POS00001', 'MER000000000001', 'Lucky Supermarket, Sihanouk Blvd'),
                               ('POS00002', 'MER000000000002', 'Brown Coffee, BKK1'),
                               ('POS00003', 'MER000000000003', 'Tela, Russian Blvd')) AS t(tid, mid, loc)
  JOIN merchants m ON m.merchant_id = t.mid
 WHERE i.is_self;

-- Load the ATMs with cash: USD 50,000 and KHR 200,000,000 each.
WITH e AS (INSERT INTO journal_entries (business_day, kind, description)
           VALUES ((now() AT TIME ZONE 'Asia/Phnom_Penh')::date, 'atm_load', 'demo ATM cash') RETURNING id)
INSERT INTO journal_lines (entry_id, account_id, currency, amount, line_kind)
SELECT e.id, a.id, a.currency, CASE WHEN a.currency = 840 THEN -5000000 ELSE -20000000000 END, 'principal'
  FROM e, accounts a WHERE a.purpose LIKE 'atm_cash:%'
UNION ALL
SELECT e.id, internal_account('scheme_settlement', c.code), c.code,
       CASE WHEN c.code = 840 THEN 15000000 ELSE 60000000000 END, 'principal'
  FROM e, currencies c;

INSERT INTO audit_log (action, object, details) VALUES ('load_demo', 'database', '{"source": "schema/demo/demo.sql"}');
