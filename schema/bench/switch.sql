-- Bench data for the switch (scripts/bench, switch section), loaded after
-- setup.sql in the psql session that first reads loadgen-bench-data's
-- output (psql variables bench_tmk_lmk/_kcv and bench_pvk_lmk/_kcv, and the
-- temporary table bench_pvv(card_no, luhn, pvv)), with
--   psql -v terminals=N -v pan_hmac_key=HEX
--
-- Card i of setup.sql (customer i, account B<i>) with a row in bench_pvv
-- gets a real PAN, the one loadgen derives from i (loadgen/lg_cards.h):
-- 453919, i in 9 digits, the Luhn digit; its pan_hash is the HMAC-SHA-256
-- switchd computes with SWITCH_PAN_HMAC_KEY, its expiry November 2030
-- (loadgen --expiry 3011), its PIN data the Visa PVV of the shared PIN
-- under a PVK that hsm-sim generated. pan_enc stays setup.sql's placeholder
-- (switchd never reads it). Cards without a row keep setup.sql's sha256
-- hash (the db section's pgbench script addresses them by it).
-- ATMs BA000001 .. BA<N>: own ATMs with cash accounts loaded with
-- USD 1,000,000 and KHR 4,000,000,000, all with the shared TMK of
-- schema/bench/tmk.txt (stored only in its LMK form).
\set ON_ERROR_STOP on
BEGIN;

INSERT INTO crypto_keys (kind, label, key_lmk, kcv)
  VALUES ('PVK', 'bench-pvk-' || (SELECT count(*) + 1 FROM crypto_keys WHERE kind = 'PVK'),
          :'bench_pvk_lmk', :'bench_pvk_kcv')
  RETURNING id AS bench_pvk_id \gset

UPDATE cards c
   SET pan_hash = hmac(convert_to(p.pan, 'UTF8'), decode(:'pan_hmac_key', 'hex'), 'sha256'),
       pan_masked = left(p.pan, 6) || '******' || right(p.pan, 4),
       expiry = DATE '2030-11-30', service_code = '201',
       pin_method = 'pvv', pvki = 1, pin_verify_data = b.pvv, pvk_key_id = :bench_pvk_id, pin_tries = 0
  FROM bench_pvv b, LATERAL (SELECT '453919' || lpad(b.card_no::text, 9, '0') || b.luhn AS pan) p
 WHERE c.customer_id = b.card_no;

CREATE TEMP TABLE bench_atms ON COMMIT DROP AS
  SELECT 'BA' || lpad(g::text, 6, '0') AS tid FROM generate_series(1, :terminals) g;

INSERT INTO accounts (number, kind, currency, purpose)
SELECT 'GL-ATMCASH-' || t.tid || '-' || c.alpha, 'internal', c.code, 'atm_cash:' || t.tid
  FROM bench_atms t, currencies c;

INSERT INTO terminals (terminal_id, kind, institution_id, mcc, location, cash_account_usd, cash_account_khr)
SELECT t.tid, 'atm', i.id, '6011', 'bench ATM', u.id, k.id
  FROM institutions i, bench_atms t
  JOIN accounts u ON u.purpose = 'atm_cash:' || t.tid AND u.currency = 840
  JOIN accounts k ON k.purpose = 'atm_cash:' || t.tid AND k.currency = 116
 WHERE i.is_self;

SELECT count(*) AS atms_with_tmk
  FROM (SELECT terminal_set_tmk(tid, :'bench_tmk_lmk', :'bench_tmk_kcv') FROM bench_atms) x;

-- The cash, from the scheme settlement account (a credit-normal asset
-- account holding cash shows a negative balance, docs/database.md).
WITH e AS (INSERT INTO journal_entries (business_day, kind, description)
           VALUES ((now() AT TIME ZONE 'Asia/Phnom_Penh')::date, 'atm_load', 'bench ATM cash') RETURNING id)
INSERT INTO journal_lines (entry_id, account_id, currency, amount, line_kind)
SELECT e.id, a.id, a.currency, CASE WHEN a.currency = 840 THEN -100000000 ELSE -400000000000 END, 'principal'
  FROM e, accounts a JOIN bench_atms t ON a.purpose = 'atm_cash:' || t.tid
UNION ALL
SELECT e.id, internal_account('scheme_settlement', c.code), c.code,
       (SELECT count(*) FROM bench_atms) * CASE WHEN c.code = 840 THEN 100000000 ELSE 400000000000 END, 'principal'
  FROM e, currencies c;

COMMIT;
ANALYZE cards;
ANALYZE terminals;
