-- Bench data for scripts/bench (clearing section), after setup.sql, with
--   psql -v records=N -v pan_hmac_key=HEX -v day=YYYY-MM-DD
-- Setup.sql's cards get the PANs `switchctl clearing make-test-file
-- --bench-cards N --records M` writes (453919, card number in 9 digits,
-- Luhn digit; pan_hash the HMAC-SHA-256 import computes). Record i of that
-- file presents card 1 + (7 i mod N) for 1.00 + (7919 i mod 20000) cents;
-- every even record carries approval code i mod 1,000,000 and gets here the
-- approved authorisation and live hold it matches, so half the file clears
-- against holds and half is force-posted.
\set ON_ERROR_STOP on
BEGIN;
CREATE FUNCTION pg_temp.luhn(digits text) RETURNS text LANGUAGE sql IMMUTABLE AS $$
  SELECT digits || ((10 - (sum(d) % 10)) % 10)::text
    FROM (SELECT CASE WHEN i % 2 = 1 THEN CASE WHEN v * 2 > 9 THEN v * 2 - 9 ELSE v * 2 END ELSE v END AS d
            FROM (SELECT i, substr(reverse(digits), i, 1)::int AS v
                    FROM generate_series(1, length(digits)) i) x) y
$$;
UPDATE cards c
   SET pan_hash = hmac(convert_to(p.pan, 'UTF8'), decode(:'pan_hmac_key', 'hex'), 'sha256'),
       pan_masked = left(p.pan, 6) || '******' || right(p.pan, 4)
  FROM (SELECT g AS customer_id, pg_temp.luhn('453919' || lpad(g::text, 9, '0')) AS pan
          FROM generate_series(1, 100000) g) p
 WHERE c.customer_id = p.customer_id;

CREATE TEMP TABLE bench_auth ON COMMIT DROP AS
SELECT i, nextval(pg_get_serial_sequence('auth_log', 'id')) AS auth_id,
       nextval(pg_get_serial_sequence('holds', 'id')) AS hold_id,
       c.id AS card_id, c.account_id, 100 + (i * 7919) % 20000 AS amount, c.pan_hash
  FROM generate_series(0::bigint, :records - 1, 2) i
  JOIN cards c ON c.customer_id = 1 + (i * 7) % (SELECT count(*) FROM cards WHERE customer_id <= 100000);
INSERT INTO holds (id, account_id, card_id, auth_id, currency, amount, fee, original_amount, expires_at)
SELECT hold_id, account_id, card_id, auth_id, 840, amount, 0, amount, now() + interval '32 days' FROM bench_auth;
INSERT INTO auth_log (id, business_day, msg_class, mti, txn_type, proc_code, acquirer_id, terminal_id, stan,
                      transmitted, own_terminal, channel, card_id, pan_hash, account_id, amount_txn, currency_txn,
                      amount_acct, currency_acct, response_code, rule, approval_code, hold_id)
SELECT auth_id, :'day', 'auth', '0100', 'purchase', '000000', '00000000777', 'BENCH001',
       lpad((i % 1000000)::text, 6, '0'), lpad((i / 1000000)::text, 10, '0'), false, 'purchase',
       card_id, pan_hash, account_id, amount, 840, amount, 840, '00', 'approved_hold',
       lpad((i % 1000000)::text, 6, '0'), hold_id
  FROM bench_auth;
COMMIT;
VACUUM ANALYZE;
