-- The atomic operations, one scenario each, with the ledger invariants
-- checked after every operation. Demo bank: acquirer 00000000001 is us,
-- 00000000002 another bank; ATM00001 is our ATM, POS00001 our POS.
SET client_min_messages = warning;
CREATE FUNCTION pg_temp.card(p_code text, p_cur smallint DEFAULT 840, p_primary boolean DEFAULT true) RETURNS bigint
LANGUAGE sql AS $$ SELECT c.id FROM cards c JOIN products p ON p.id = c.product_id JOIN accounts a ON a.id = c.account_id
  WHERE p.code = p_code AND a.currency = p_cur AND c.is_primary = p_primary ORDER BY c.id LIMIT 1 $$;
CREATE FUNCTION pg_temp.acct(p_card bigint) RETURNS accounts LANGUAGE sql AS
$$ SELECT a.* FROM accounts a JOIN cards c ON c.account_id = a.id WHERE c.id = p_card $$;
CREATE SEQUENCE pg_temp.stan START 200000;
-- authorise with a fresh STAN
CREATE FUNCTION pg_temp.auth(p_type text, p_acq text, p_term text, p_card bigint, p_amount bigint,
                             p_cur smallint DEFAULT 840, p_pin text DEFAULT NULL, p_merchant text DEFAULT NULL,
                             p_recurring boolean DEFAULT false) RETURNS auth_result LANGUAGE sql AS $$
  SELECT authorise(p_type, p_acq, p_term, lpad(nextval('pg_temp.stan')::text, 6, '0'), '1123101500',
                   pg_temp.h(p_card), p_amount, p_cur, p_merchant, NULL, NULL, NULL, NULL, NULL, p_pin, p_recurring) $$;

-- Own-ATM cash on our card: posted at once from the ATM's cash account;
-- a retransmission gets the original answer and posts nothing; the same
-- key with other content gets 94; partial then full reversal.
DO $$
DECLARE c bigint := pg_temp.card('VISA_CLASSIC'); a0 accounts; a1 accounts; r auth_result; d auth_result; cash0 bigint;
BEGIN
  a0 := pg_temp.acct(c);
  cash0 := (SELECT ledger_balance FROM accounts WHERE purpose = 'atm_cash:ATM00001' AND currency = 840);
  r := authorise('cash', '00000000001', 'ATM00001', '000001', '1123101500', pg_temp.h(c), 10000, 840::smallint);
  PERFORM pg_temp.eq(r.response_code, '00', 'own ATM cash'); PERFORM pg_temp.eq(r.rule, 'approved_posted', 'rule');
  PERFORM pg_temp.eq(r.fee, 0::bigint, 'own ATM is free');
  a1 := pg_temp.acct(c);
  PERFORM pg_temp.eq(a1.ledger_balance, a0.ledger_balance - 10000, 'debited at once');
  PERFORM pg_temp.eq((SELECT ledger_balance FROM accounts WHERE purpose = 'atm_cash:ATM00001' AND currency = 840), cash0 + 10000, 'ATM cash');
  PERFORM pg_temp.eq(r.available_balance, account_available(a1), 'available returned');
  PERFORM pg_temp.check_invariants();
  d := authorise('cash', '00000000001', 'ATM00001', '000001', '1123101500', pg_temp.h(c), 10000, 840::smallint);
  PERFORM pg_temp.eq(d.duplicate, true, 'duplicate flagged'); PERFORM pg_temp.eq(d.auth_id, r.auth_id, 'original answer');
  PERFORM pg_temp.eq(d.response_code, '00', 'duplicate code');
  PERFORM pg_temp.eq((pg_temp.acct(c)).ledger_balance, a1.ledger_balance, 'duplicate posts nothing');
  d := authorise('cash', '00000000001', 'ATM00001', '000001', '1123101500', pg_temp.h(c), 20000, 840::smallint);
  PERFORM pg_temp.eq(d.response_code, '94', 'same key, other content');
  -- partial dispense: 60.00 of 100.00 came out
  d := reverse('00000000001', 'ATM00001', '000002', '1123101600', '000001', '1123101500', 6000);
  PERFORM pg_temp.eq(d.response_code, '00', 'partial reversal');
  PERFORM pg_temp.eq((pg_temp.acct(c)).ledger_balance, a0.ledger_balance - 6000, 'undispensed part back');
  PERFORM pg_temp.check_invariants();
  d := reverse('00000000001', 'ATM00001', '000002', '1123101600', '000001', '1123101500', 6000);
  PERFORM pg_temp.eq(d.duplicate, true, 'repeated reversal');
  d := reverse('00000000001', 'ATM00001', '000003', '1123101700', '000001', '1123101500', 0);
  PERFORM pg_temp.eq((pg_temp.acct(c)).ledger_balance, a0.ledger_balance, 'fully reversed');
  d := reverse('00000000001', 'ATM00001', '000004', '1123101800', '000001', '1123101500', 0);
  PERFORM pg_temp.eq(d.rule, 'already_reversed', 'reversal after full reversal');
  PERFORM pg_temp.eq((pg_temp.acct(c)).ledger_balance, a0.ledger_balance, 'nothing twice');
  d := reverse('00000000001', 'ATM00001', '000005', '1123101900', '999999', '1123101500', 0);
  PERFORM pg_temp.eq(d.response_code, '25', 'unknown original');
  PERFORM pg_temp.check_invariants();
END $$;

-- Another bank's ATM: held, fee 2% minimum 5.00; partial reversal returns
-- the undispensed part and its share of the fee. Balance inquiry fees.
DO $$
DECLARE c bigint := pg_temp.card('MC_STANDARD'); a0 accounts; r auth_result; d auth_result; h holds;
BEGIN
  a0 := pg_temp.acct(c);
  r := authorise('cash', '00000000002', 'OTHER001', '000001', '1123101500', pg_temp.h(c), 10000, 840::smallint);
  PERFORM pg_temp.eq(r.response_code, '00', 'foreign ATM'); PERFORM pg_temp.eq(r.fee, 500::bigint, 'minimum fee');
  SELECT * INTO h FROM holds WHERE id = r.hold_id;
  PERFORM pg_temp.eq(h.amount, 10500::bigint, 'hold = amount + fee');
  PERFORM pg_temp.eq((pg_temp.acct(c)).ledger_balance, a0.ledger_balance, 'not posted');
  PERFORM pg_temp.eq(account_available(pg_temp.acct(c)), account_available(a0) - 10500, 'available reduced');
  PERFORM pg_temp.check_invariants();
  d := reverse('00000000002', 'OTHER001', '000002', '1123101600', '000001', '1123101500', 4000);
  SELECT * INTO h FROM holds WHERE id = r.hold_id;
  -- 40.00 dispensed at another bank's ATM still costs the 5.00 minimum (018).
  PERFORM pg_temp.eq(h.amount, 4000::bigint + 500, 'hold keeps 40.00 and the minimum fee');
  PERFORM pg_temp.check_invariants();
  r := authorise('cash', '00000000002', 'OTHER001', '000003', '1123101500', pg_temp.h(c), 90000, 840::smallint);
  PERFORM pg_temp.eq(r.fee, 1800::bigint, '2% above the minimum');
  r := authorise('balance', '00000000002', 'OTHER001', '000004', '1123101500', pg_temp.h(c), 0, 840::smallint);
  PERFORM pg_temp.eq(r.fee, 50::bigint, 'foreign balance inquiry');
  PERFORM pg_temp.eq(r.ledger_balance, a0.ledger_balance - 50, 'inquiry fee posted');
  r := authorise('balance', '00000000001', 'ATM00001', '900004', '1123101500', pg_temp.h(c), 0, 840::smallint);
  PERFORM pg_temp.eq(r.fee, 0::bigint, 'own ATM balance inquiry free');
  PERFORM pg_temp.eq(r.response_code, '00', 'own inquiry');
  c := pg_temp.card('VISA_PLATINUM');
  r := authorise('balance', '00000000002', 'OTHER001', '000005', '1123101500', pg_temp.h(c), 0, 840::smallint);
  PERFORM pg_temp.eq(r.fee, 0::bigint, 'platinum inquiry free');
  PERFORM pg_temp.check_invariants();
END $$;

-- POS purchase held; pre-auth completed within tolerance; refund credited.
DO $$
DECLARE c bigint := pg_temp.card('VISA_BUSINESS'); a0 accounts; r auth_result; d auth_result;
BEGIN
  a0 := pg_temp.acct(c);
  r := authorise('purchase', '00000000001', 'POS00001', '000001', '1123101500', pg_temp.h(c), 2500, 840::smallint, 'MER000000000001');
  PERFORM pg_temp.eq(r.rule, 'approved_hold', 'purchase held'); PERFORM pg_temp.eq(r.fee, 0::bigint, 'purchase free');
  d := reverse('00000000001', 'POS00001', '000002', '1123101600', '000001', '1123101500', 0);
  PERFORM pg_temp.eq((SELECT status FROM holds WHERE id = r.hold_id), 'reversed'::hold_status, 'void releases hold');
  PERFORM pg_temp.eq(account_available(pg_temp.acct(c)), account_available(a0), 'available restored');
  r := authorise('preauth', '00000000001', 'POS00003', '000003', '1123101500', pg_temp.h(c), 5000, 840::smallint, 'MER000000000003');
  d := complete_preauth('00000000001', 'POS00003', '000004', '1123101700', '000003', '1123101500', 7000);
  PERFORM pg_temp.eq(d.response_code, '13', 'completion beyond tolerance');
  d := complete_preauth('00000000001', 'POS00003', '000005', '1123101700', '000003', '1123101500', 5500);
  PERFORM pg_temp.eq(d.response_code, '00', 'completion within tolerance');
  PERFORM pg_temp.eq((SELECT amount FROM holds WHERE id = r.hold_id), 5500::bigint, 'hold resized');
  d := complete_preauth('00000000001', 'POS00003', '000006', '1123101700', '000003', '1123101500', 5500);
  PERFORM pg_temp.eq(d.response_code, '12', 'second completion');
  PERFORM pg_temp.check_invariants();
  r := authorise('refund', '00000000001', 'POS00001', '000007', '1123101500', pg_temp.h(c), 1000, 840::smallint, 'MER000000000001');
  PERFORM pg_temp.eq(r.rule, 'approved_refund', 'refund');
  PERFORM pg_temp.eq((pg_temp.acct(c)).ledger_balance, a0.ledger_balance + 1000, 'refund credited');
  PERFORM pg_temp.check_invariants();
END $$;

-- Conversion: USD cash on a KHR account at the rate in force, with the 2%
-- conversion fee as its own journal line; free on Visa Platinum.
DO $$
DECLARE c bigint := pg_temp.card('VISA_CLASSIC', 116::smallint); a0 accounts; r auth_result; rate numeric;
BEGIN
  a0 := pg_temp.acct(c);
  rate := (SELECT er.rate FROM exchange_rates er WHERE from_currency = 840 AND to_currency = 116 ORDER BY effective_from DESC LIMIT 1);
  r := authorise('cash', '00000000001', 'ATM00002', '000001', '1123101500', pg_temp.h(c), 2000, 840::smallint);
  PERFORM pg_temp.eq(r.response_code, '00', 'converted cash');
  PERFORM pg_temp.eq(r.amount_acct, round(2000 * rate)::bigint, 'converted at the rate in force');
  PERFORM pg_temp.eq(r.fee, (round(2000 * rate)::bigint * 200 + 5000) / 10000, 'conversion fee 2%');
  PERFORM pg_temp.eq((SELECT -sum(amount) FROM journal_lines WHERE entry_id = r.entry_id AND line_kind = 'conversion_fee' AND account_id = a0.id)::bigint,
                     r.fee, 'conversion fee is its own line');
  PERFORM pg_temp.eq((pg_temp.acct(c)).ledger_balance, a0.ledger_balance - r.amount_acct - r.fee, 'KHR debited');
  PERFORM pg_temp.check_invariants();
END $$;

-- Card states, PIN tries, stop-payments, limits, funds.
DO $$
DECLARE c bigint := pg_temp.card('UPI_CLASSIC'); r auth_result; i int;
BEGIN
  PERFORM card_set_status(c, 'blocked_bank', 'test');
  PERFORM pg_temp.eq((pg_temp.auth('purchase', '00000000001', 'POS00001', c, 100)).response_code, '62', 'blocked');
  PERFORM card_set_status(c, 'lost', 'test');
  PERFORM pg_temp.eq((pg_temp.auth('purchase', '00000000001', 'POS00001', c, 100)).response_code, '41', 'lost');
  PERFORM card_set_status(c, 'stolen', 'test');
  PERFORM pg_temp.eq((pg_temp.auth('purchase', '00000000001', 'POS00001', c, 100)).response_code, '43', 'stolen');
  PERFORM card_set_status(c, 'active', 'found');
  PERFORM pg_temp.eq((pg_temp.auth('purchase', '00000000001', 'POS00001', c, 100)).response_code, '00', 'unblocked');
  UPDATE cards SET expiry = current_date - 40 WHERE id = c;
  PERFORM pg_temp.eq((pg_temp.auth('purchase', '00000000001', 'POS00001', c, 100)).response_code, '54', 'expired');
  UPDATE cards SET expiry = current_date + 400 WHERE id = c;
  -- PIN tries: 3 wrong -> 55, 55, 75; then even a right PIN gets 75 until reset
  PERFORM pg_temp.eq((pg_temp.auth('cash', '00000000001', 'ATM00001', c, 100, 840::smallint, 'bad')).response_code, '55', 'wrong PIN 1');
  PERFORM pg_temp.eq((pg_temp.auth('cash', '00000000001', 'ATM00001', c, 100, 840::smallint, 'bad')).response_code, '55', 'wrong PIN 2');
  PERFORM pg_temp.eq((pg_temp.auth('cash', '00000000001', 'ATM00001', c, 100, 840::smallint, 'bad')).response_code, '75', 'wrong PIN 3');
  PERFORM pg_temp.eq((pg_temp.auth('cash', '00000000001', 'ATM00001', c, 100, 840::smallint, 'ok')).response_code, '75', 'locked');
  PERFORM card_pin_reset(c);
  PERFORM pg_temp.eq((pg_temp.auth('cash', '00000000001', 'ATM00001', c, 100, 840::smallint, 'ok')).response_code, '00', 'after reset');
  PERFORM pg_temp.eq(card_pin_try(c, false), '55', 'pin_try wrong');
  PERFORM pg_temp.eq(card_pin_try(c, true), '00', 'pin_try right');
  PERFORM pg_temp.eq((SELECT pin_tries FROM cards WHERE id = c), 0::smallint, 'reset by success');
  -- stop-payment on a recurring merchant
  INSERT INTO stop_payments (card_id, merchant_id) VALUES (c, 'MER000000000004');
  PERFORM pg_temp.eq((pg_temp.auth('purchase', '00000000002', 'ECOM0001', c, 999, 840::smallint, NULL, 'MER000000000004', true)).response_code, '57', 'stop-payment');
  PERFORM pg_temp.eq((pg_temp.auth('purchase', '00000000002', 'ECOM0001', c, 999, 840::smallint, NULL, 'MER000000000001', true)).response_code, '00', 'other merchant');
  -- unknown card, unknown own terminal
  PERFORM pg_temp.eq((authorise('purchase', '00000000001', 'POS00001', '777777', '1123101500', decode(repeat('00', 32), 'hex'), 100, 840::smallint)).response_code, '14', 'unknown card');
  PERFORM pg_temp.eq((pg_temp.auth('purchase', '00000000001', 'NOPE0001', c, 100)).response_code, '03', 'unknown terminal');
  PERFORM pg_temp.eq((pg_temp.auth('cash', '00000000001', 'POS00001', c, 100)).response_code, '58', 'cash at a POS');
  PERFORM pg_temp.check_invariants();
END $$;

DO $$
DECLARE c bigint := pg_temp.card('MC_STANDARD'); s bigint := pg_temp.card('VISA_CLASSIC', 840::smallint, false);
        p bigint := pg_temp.card('VISA_PLATINUM'); i int; r auth_result;
BEGIN
  -- counts: cash withdrawals/day is 5 on Standard (2 used above)
  FOR i IN 1..3 LOOP
    PERFORM pg_temp.eq((pg_temp.auth('cash', '00000000001', 'ATM00001', c, 1000)).response_code, '00', 'cash within count');
  END LOOP;
  r := pg_temp.auth('cash', '00000000001', 'ATM00001', c, 1000);
  PERFORM pg_temp.eq(r.response_code || r.rule, '65daily_count_cash', 'sixth cash');
  PERFORM pg_temp.eq((pg_temp.auth('purchase', '00000000001', 'POS00001', c, 1000)).response_code, '00', 'purchases counted apart');
  -- the customer's own lower limit (200.00) on the supplementary card
  r := pg_temp.auth('purchase', '00000000001', 'POS00001', s, 25000);
  PERFORM pg_temp.eq(r.response_code || r.rule, '61daily_amount_card', 'customer limit');
  -- product amount limit, combined cash + purchases
  r := pg_temp.auth('purchase', '00000000001', 'POS00001', c, 100001);
  PERFORM pg_temp.eq(r.response_code, '61', 'product limit');
  -- funds: platinum limit 10,000 but balance 5,000 - minimum 10.00 + overdraft 500.00
  PERFORM pg_temp.eq(account_available(pg_temp.acct(p)), 549000::bigint, 'available with minimum and overdraft');
  r := pg_temp.auth('purchase', '00000000001', 'POS00001', p, 549001);
  PERFORM pg_temp.eq(r.response_code, '51', 'insufficient funds');
  r := pg_temp.auth('purchase', '00000000001', 'POS00001', p, 549000);
  PERFORM pg_temp.eq(r.response_code, '00', 'exactly the available balance');
  PERFORM pg_temp.eq(r.available_balance, 0::bigint, 'nothing left');
  PERFORM pg_temp.check_invariants();
  -- every log row names its rule and fee version
  PERFORM pg_temp.eq((SELECT count(*) FROM auth_log WHERE rule IS NULL OR (msg_class = 'auth' AND card_id IS NOT NULL AND response_code = '00' AND fee_version_id IS NULL)), 0::bigint, 'rule and fee version recorded');
END $$;

-- Hold expiry after 32 days: idempotent.
DO $$
DECLARE n int; m int; active int := (SELECT count(*) FROM holds WHERE status = 'active');
BEGIN
  PERFORM pg_temp.eq(expire_holds(now() + interval '31 days'), 0, 'nothing before 32 days');
  n := expire_holds(now() + interval '33 days');
  m := expire_holds(now() + interval '33 days');
  PERFORM pg_temp.eq(n, active, 'all expired'); PERFORM pg_temp.eq(m, 0, 'idempotent');
  PERFORM pg_temp.check_invariants();
  PERFORM pg_temp.eq((SELECT sum(held_amount) FROM accounts), 0::numeric, 'nothing held');
END $$;

-- Cardless cash: create, wrong codes, redeem once; expiry returns money.
-- The code is checked by the HSM (switchd passes its verdict); here the
-- offset and PVK are stand-ins: the database only stores them.
DO $$
DECLARE a accounts := (SELECT a FROM accounts a WHERE number = '100000031'); v bigint; code text; r auth_result;
        led bigint; pvk int; tmk int; l record;
BEGIN
  SELECT key_id INTO pvk FROM crypto_key_install('PVK', 'voucher-pvk', 'U' || repeat('AB', 24), 'abc123');
  PERFORM pg_temp.eq((SELECT key_id FROM crypto_key_install('PVK', 'voucher-pvk', 'U' || repeat('CD', 24), 'DEF456')),
                     pvk, 'a second install keeps the first key');
  PERFORM pg_temp.eq((SELECT kcv FROM crypto_keys WHERE id = pvk), 'ABC123', 'first key kept');
  PERFORM pg_temp.eq((SELECT count(*) FROM audit_log WHERE action = 'key_install'), 1::bigint, 'key install audited once');
  PERFORM pg_temp.refused($q$SELECT crypto_key_install('TMK', 'voucher-pvk', 'U' || repeat('AB', 24), 'ABC123')$q$,
                          '23514', 'same label, other kind');
  SELECT key_id INTO tmk FROM crypto_key_install('TMK', 'test-tmk', 'U' || repeat('EF', 24), '00AA11');
  PERFORM pg_temp.refused(format($q$SELECT voucher_create(%s, '7000000000000001', '+85599000001', '12345678',
                          %s, 5000, 840::smallint)$q$, a.id, tmk), '23503', 'voucher under a key that is not a PVK');
  PERFORM pg_temp.refused(format($q$SELECT voucher_create(%s, '70000001', '+85599000001', '12345678', %s,
                          5000, 840::smallint)$q$, a.id, pvk), '23514', 'reference of 8 digits');
  SELECT * INTO code, v FROM voucher_create(a.id, '7000000000000001', '+85599000001', '12345678', pvk, 5000, 840::smallint);
  PERFORM pg_temp.eq(code, '00', 'voucher created');
  PERFORM pg_temp.eq((SELECT ledger_balance FROM accounts WHERE id = a.id), a.ledger_balance - 5000, 'sender debited');
  SELECT * INTO l FROM voucher_lookup('7000000000000001');
  PERFORM pg_temp.eq(l.status::text || l.amount || '/' || l.currency || '/' || l.code_offset || '/' || l.tries || '/' || l.max_tries,
                     'active5000/840/12345678/0/3', 'lookup');
  PERFORM pg_temp.eq(l.pvk_lmk, 'U' || repeat('AB', 24), 'lookup gives the PVK under the LMK');
  PERFORM pg_temp.eq((SELECT count(*) FROM voucher_lookup('7000000000000009')), 0::bigint, 'unknown: no row');
  r := voucher_redeem('00000000001', 'ATM00001', '500001', '1123101500', '7000000000000001', false, 5000, 840::smallint);
  PERFORM pg_temp.eq(r.response_code || r.rule, '55voucher_code_wrong', 'wrong code');
  PERFORM pg_temp.eq((voucher_lookup('7000000000000001')).tries, 1::smallint, 'try counted');
  r := voucher_redeem('00000000001', 'ATM00001', '500002', '1123101500', '7000000000000001', true, 4000, 840::smallint);
  PERFORM pg_temp.eq(r.response_code, '13', 'wrong amount');
  r := voucher_redeem('00000000001', 'ATM00001', '500005', '1123101500', '7000000000000001', true, 5000, 116::smallint);
  PERFORM pg_temp.eq(r.response_code, '13', 'wrong currency');
  r := voucher_redeem('00000000001', 'POS00001', '500006', '1123101500', '7000000000000001', true, 5000, 840::smallint);
  PERFORM pg_temp.eq(r.response_code, '58', 'not at a POS');
  r := voucher_redeem('00000000002', 'ATM00001', '500007', '1123101500', '7000000000000001', true, 5000, 840::smallint);
  PERFORM pg_temp.eq(r.response_code, '03', 'not another acquirer''s terminal');
  r := voucher_redeem('00000000001', 'ATM00001', '500003', '1123101500', '7000000000000001', true, 5000, 840::smallint);
  PERFORM pg_temp.eq(r.response_code, '00', 'redeemed');
  PERFORM pg_temp.eq((voucher_redeem('00000000001', 'ATM00001', '500003', '1123101500', '7000000000000001', true, 5000,
                      840::smallint)).duplicate, true, 'repeat answered as before');
  r := voucher_redeem('00000000001', 'ATM00001', '500004', '1123101500', '7000000000000001', true, 5000, 840::smallint);
  PERFORM pg_temp.eq(r.response_code, '14', 'only once');
  PERFORM pg_temp.check_invariants();
  SELECT * INTO code, v FROM voucher_create(a.id, '7000000000000002', '+85599000001', '87654321', pvk, 3000, 840::smallint);
  r := voucher_redeem('00000000001', 'ATM00001', '500011', '1123101500', '7000000000000002', false, 3000, 840::smallint);
  r := voucher_redeem('00000000001', 'ATM00001', '500012', '1123101500', '7000000000000002', NULL, 3000, 840::smallint);
  PERFORM pg_temp.eq(r.response_code, '55', 'no verdict is a wrong code');
  r := voucher_redeem('00000000001', 'ATM00001', '500013', '1123101500', '7000000000000002', false, 3000, 840::smallint);
  PERFORM pg_temp.eq(r.response_code || r.rule, '75voucher_locked_now', 'locked after wrong codes');
  r := voucher_redeem('00000000001', 'ATM00001', '500014', '1123101500', '7000000000000002', true, 3000, 840::smallint);
  PERFORM pg_temp.eq(r.response_code || r.rule, '75voucher_locked', 'locked even for the right code');
  PERFORM pg_temp.eq((voucher_lookup('7000000000000002')).status, 'locked'::voucher_status, 'lookup shows locked');
  led := (SELECT ledger_balance FROM accounts WHERE id = a.id);
  PERFORM pg_temp.eq(voucher_expire(now() + interval '29 days'), 0, 'not yet');
  PERFORM pg_temp.eq(voucher_expire(now() + interval '31 days'), 1, 'expired');
  PERFORM pg_temp.eq(voucher_expire(now() + interval '31 days'), 0, 'expiry idempotent');
  PERFORM pg_temp.eq((SELECT ledger_balance FROM accounts WHERE id = a.id), led + 3000, 'money back to sender');
  PERFORM pg_temp.check_invariants();
  -- The open-voucher guard of migration 010: no open voucher without a code.
  PERFORM pg_temp.refused(format($q$INSERT INTO cardless_vouchers (reference, sender_account_id, recipient_phone, amount,
                          currency, expires_at) VALUES ('7000000000000003', %s, '+85599000001', 1, 840, now())$q$, a.id),
                          '23514', 'open voucher without a code offset');
END $$;

-- Stop-payments through the operator functions: audit-logged, errors for a
-- repeat and for lifting what is not there; a lifted one no longer applies.
DO $$
DECLARE c bigint := pg_temp.card('MC_PLATINUM'); sp bigint; n bigint := (SELECT max(id) FROM audit_log);
BEGIN
  sp := stop_payment_add(c, 'MER000000000002', 'customer called');
  PERFORM pg_temp.eq((pg_temp.auth('purchase', '00000000002', 'ECOM0001', c, 500, 840::smallint, NULL, 'MER000000000002', true)).response_code,
                     '57', 'stopped');
  PERFORM pg_temp.refused(format($q$SELECT stop_payment_add(%s, 'MER000000000002')$q$, c), '23505', 'added twice');
  PERFORM pg_temp.refused($q$SELECT stop_payment_add(999999, 'MER000000000002')$q$, 'P0002', 'unknown card');
  PERFORM pg_temp.refused(format($q$SELECT stop_payment_add(%s, '')$q$, c), '23514', 'empty merchant');
  PERFORM pg_temp.refused(format($q$SELECT stop_payment_remove(%s, 'MER000000000009')$q$, c), 'P0002', 'nothing to lift');
  PERFORM stop_payment_remove(c, 'MER000000000002');
  PERFORM pg_temp.eq((SELECT lifted_at IS NOT NULL FROM stop_payments WHERE id = sp), true, 'lifted_at set');
  PERFORM pg_temp.refused(format($q$SELECT stop_payment_remove(%s, 'MER000000000002')$q$, c), 'P0002', 'lifted twice');
  PERFORM pg_temp.eq((pg_temp.auth('purchase', '00000000002', 'ECOM0001', c, 500, 840::smallint, NULL, 'MER000000000002', true)).response_code,
                     '00', 'lifted: charged again');
  PERFORM stop_payment_add(c, 'MER000000000002');
  PERFORM pg_temp.eq((SELECT string_agg(action, ',' ORDER BY id) FROM audit_log WHERE id > n AND object = 'card:' || c),
                     'stop_payment_add,stop_payment_remove,stop_payment_add', 'audit rows');
  PERFORM pg_temp.check_invariants();
END $$;
