-- Cardless cash with the code verified by the HSM, operator stop-payments,
-- and keys installed once under a label.
--
-- The recipient types the 8-digit code on the ATM's encrypting PIN pad, so
-- it reaches the switch only as an ISO 9564 format-0 PIN block under the
-- ATM's TPK, with the voucher's 16-digit reference in place of the PAN. The
-- switch cannot hash what it never sees in clear: the code is kept as an
-- IBM 3624 offset under the bank's voucher PVK and checked by hsm-sim (DA)
-- exactly like a card PIN. Validation data: the 11 digits of the reference
-- before its last digit, padded right with F to 16 hex; decimalisation
-- table 0123456789012345 (the card rule of switchd).

-- A key generated in the HSM, stored under a label once: a second install
-- under the same label (two first uses at the same time) keeps the first
-- key and returns it, so both callers use the same one. Audit-logged when
-- stored (KCV only).
CREATE FUNCTION crypto_key_install(p_kind text, p_label text, p_key_lmk text, p_kcv text,
                                   p_operator text DEFAULT session_user)
RETURNS TABLE (key_id integer, key_lmk text, kcv text, created boolean)
LANGUAGE plpgsql AS $$
DECLARE k crypto_keys;
BEGIN
  INSERT INTO crypto_keys (kind, label, key_lmk, kcv) VALUES (p_kind, p_label, p_key_lmk, upper(p_kcv))
    ON CONFLICT (label) DO NOTHING RETURNING * INTO k;
  created := k.id IS NOT NULL;
  IF created THEN
    INSERT INTO audit_log (operator, action, object, details)
      VALUES (p_operator, 'key_install', 'crypto_key:' || k.id,
              jsonb_build_object('kind', p_kind, 'label', p_label, 'kcv', k.kcv));
  ELSE
    SELECT * INTO k FROM crypto_keys c WHERE c.label = p_label;
    IF k.kind <> p_kind THEN
      RAISE EXCEPTION 'key % is a %, not a %', p_label, k.kind, p_kind USING ERRCODE = 'check_violation';
    END IF;
  END IF;
  key_id := k.id; key_lmk := k.key_lmk; kcv := k.kcv;
  RETURN NEXT;
END $$;

-- Vouchers keep the code as an offset. The keyed hash goes: it could only
-- be checked by a switch holding the clear code. Open vouchers made with a
-- hash could never be redeemed again, so the migration refuses while any
-- remain (let voucher_expire() return their money first); closed ones keep
-- their history without a code.
DO $$
BEGIN
  IF EXISTS (SELECT 1 FROM cardless_vouchers WHERE status IN ('active', 'locked')) THEN
    RAISE EXCEPTION 'migration 010: % open cardless voucher(s) still hold a code hash; run voucher_expire() once they expire, then migrate',
      (SELECT count(*) FROM cardless_vouchers WHERE status IN ('active', 'locked'));
  END IF;
END $$;
ALTER TABLE cardless_vouchers
  DROP COLUMN code_hash,
  ADD COLUMN code_offset text CHECK (code_offset ~ '^[0-9]{8}$'),
  ADD COLUMN pvk_key_id integer REFERENCES crypto_keys,
  ADD CONSTRAINT cardless_vouchers_code CHECK ((code_offset IS NULL) = (pvk_key_id IS NULL)),
  ADD CONSTRAINT cardless_vouchers_open_has_code CHECK (code_offset IS NOT NULL OR status NOT IN ('active', 'locked')),
  -- The reference stands in for a PAN in the PIN block and the HSM commands.
  ADD CONSTRAINT cardless_vouchers_reference_pan CHECK (code_offset IS NULL OR reference ~ '^[0-9]{16}$');
COMMENT ON COLUMN cardless_vouchers.code_offset IS
  'IBM 3624 offset of the 8-digit code under pvk_key_id; the code itself is never stored';

DROP FUNCTION voucher_create(bigint, text, text, bytea, bigint, smallint);
DROP FUNCTION voucher_redeem(text, text, text, text, text, bytea, bigint, smallint);

-- Cardless cash, step 1: the sender's money moves to the voucher suspense
-- account at once. The caller (switchctl cardless send) has had the HSM
-- compute the code's offset under the voucher PVK. Returns (response code,
-- voucher id): 00, 62 (account not active), 13 (amount, or a currency not
-- the account's), 94 (reference already used), 51 (funds). Audit-logged
-- (amount and phone; nothing of the code).
CREATE FUNCTION voucher_create(p_sender_account_id bigint, p_reference text, p_phone text,
                               p_code_offset text, p_pvk_key_id integer, p_amount bigint, p_currency smallint,
                               p_operator text DEFAULT session_user,
                               OUT response_code text, OUT voucher_id bigint)
LANGUAGE plpgsql AS $$
DECLARE a accounts; s bank_settings; v_entry bigint;
BEGIN
  IF NOT EXISTS (SELECT 1 FROM crypto_keys WHERE id = p_pvk_key_id AND kind = 'PVK') THEN
    RAISE EXCEPTION 'key % is not a PVK', p_pvk_key_id USING ERRCODE = 'foreign_key_violation';
  END IF;
  SELECT * INTO s FROM bank_settings;
  SELECT * INTO a FROM accounts WHERE id = p_sender_account_id FOR NO KEY UPDATE;
  IF NOT FOUND OR a.status <> 'active' OR a.kind = 'internal' THEN response_code := '62'; RETURN; END IF;
  IF p_amount <= 0 OR p_currency <> a.currency THEN response_code := '13'; RETURN; END IF;
  IF EXISTS (SELECT 1 FROM cardless_vouchers WHERE reference = p_reference) THEN response_code := '94'; RETURN; END IF;
  IF p_amount > account_available(a) THEN response_code := '51'; RETURN; END IF;
  INSERT INTO journal_entries (business_day, kind, description)
    VALUES ((now() AT TIME ZONE s.business_tz)::date, 'voucher_create', 'voucher ' || p_reference)
    RETURNING id INTO v_entry;
  PERFORM post_transfer(v_entry, a.id, a.currency, -p_amount,
                        internal_account('voucher_suspense', a.currency), a.currency, p_amount);
  INSERT INTO cardless_vouchers (reference, sender_account_id, recipient_phone, code_offset, pvk_key_id,
                                 amount, currency, expires_at, create_entry_id)
    VALUES (p_reference, a.id, p_phone, p_code_offset, p_pvk_key_id, p_amount, p_currency,
            now() + make_interval(days => s.voucher_days), v_entry)
    RETURNING id INTO voucher_id;
  INSERT INTO audit_log (operator, action, object, details)
    VALUES (p_operator, 'voucher_create', 'voucher:' || p_reference,
            jsonb_build_object('account', a.number, 'amount', p_amount, 'currency', p_currency,
                               'phone', p_phone, 'entry', v_entry));
  response_code := '00';
END $$;

-- What switchd needs before asking the HSM to check a code: no row when
-- the reference is unknown. Read-only. The status is the stored one;
-- voucher_redeem() decides (expiry, tries) under the voucher's row lock.
CREATE FUNCTION voucher_lookup(p_reference text)
RETURNS TABLE (status voucher_status, amount bigint, currency smallint, code_offset text, pvk_lmk text,
               tries smallint, max_tries smallint, expires_at timestamptz)
LANGUAGE sql STABLE AS $$
  SELECT v.status, v.amount, v.currency, v.code_offset, k.key_lmk, v.tries,
         (SELECT voucher_max_tries FROM bank_settings), v.expires_at
    FROM cardless_vouchers v LEFT JOIN crypto_keys k ON k.id = v.pvk_key_id
   WHERE v.reference = p_reference
$$;

-- Cardless cash, step 2, at one of our ATMs: reference + the HSM's verdict
-- on the code (p_code_ok: true only when DA answered 00; anything else,
-- NULL included, is a wrong code) + amount. Order: duplicate; 03/58 not our
-- ATM; 14 unknown or already redeemed; 75 locked; 54 expired; 55 wrong code
-- (counted; 75 and locked when it reaches voucher_max_tries); 13 wrong
-- amount or currency; 00 posts suspense -> the ATM's cash account. A
-- reference switchd could not look up, or a voucher that is not active, is
-- answered by its status before the code is looked at: pass false.
CREATE FUNCTION voucher_redeem(p_acquirer_id text, p_terminal_id text, p_stan text, p_transmitted text,
                               p_reference text, p_code_ok boolean, p_amount bigint, p_currency smallint)
RETURNS auth_result LANGUAGE plpgsql AS $$
DECLARE
  r auth_result; v cardless_vouchers; s bank_settings; t terminals;
  v_id bigint := nextval(pg_get_serial_sequence('auth_log', 'id'));
  v_code text := '00'; v_rule text; v_entry bigint; v_approval text; v_day date;
BEGIN
  r := auth_duplicate('voucher', p_acquirer_id, p_terminal_id, p_stan, p_transmitted, p_amount);
  IF r.response_code IS NOT NULL THEN RETURN r; END IF;
  SELECT * INTO s FROM bank_settings;
  v_day := (now() AT TIME ZONE s.business_tz)::date;
  SELECT * INTO t FROM terminals WHERE terminal_id = p_terminal_id;
  SELECT * INTO v FROM cardless_vouchers WHERE reference = p_reference FOR UPDATE;
  IF p_acquirer_id <> s.own_acquirer_id OR t.id IS NULL THEN v_code := '03'; v_rule := 'not_own_terminal';
  ELSIF t.kind <> 'atm' THEN v_code := '58'; v_rule := 'terminal_not_atm';
  ELSIF v.id IS NULL OR v.status IN ('redeemed', 'cancelled') THEN v_code := '14'; v_rule := 'voucher_unknown';
  ELSIF v.status = 'locked' THEN v_code := '75'; v_rule := 'voucher_locked';
  ELSIF v.status = 'expired' OR v.expires_at <= now() THEN v_code := '54'; v_rule := 'voucher_expired';
  ELSIF p_code_ok IS NOT TRUE THEN
    UPDATE cardless_vouchers SET tries = tries + 1,
           status = CASE WHEN tries + 1 >= s.voucher_max_tries THEN 'locked'::voucher_status ELSE status END
     WHERE id = v.id;
    IF v.tries + 1 >= s.voucher_max_tries THEN v_code := '75'; v_rule := 'voucher_locked_now';
    ELSE v_code := '55'; v_rule := 'voucher_code_wrong'; END IF;
  ELSIF v.amount <> p_amount OR v.currency <> p_currency THEN v_code := '13'; v_rule := 'voucher_amount';
  ELSE
    INSERT INTO journal_entries (business_day, kind, auth_id, description)
      VALUES (v_day, 'voucher_redeem', v_id, 'voucher ' || v.reference) RETURNING id INTO v_entry;
    PERFORM post_transfer(v_entry, internal_account('voucher_suspense', v.currency), v.currency, -v.amount,
                          CASE v.currency WHEN 840 THEN t.cash_account_usd ELSE t.cash_account_khr END,
                          v.currency, v.amount);
    UPDATE cardless_vouchers SET status = 'redeemed', closed_at = now(), close_entry_id = v_entry WHERE id = v.id;
    v_rule := 'voucher_redeemed';
    v_approval := lpad((v_id % 1000000)::text, 6, '0');
  END IF;
  INSERT INTO auth_log (id, business_day, msg_class, txn_type, acquirer_id, terminal_id, stan, transmitted,
      account_id, amount_txn, currency_txn, amount_acct, currency_acct, response_code, rule,
      approval_code, entry_id, own_terminal)
  VALUES (v_id, v_day, 'voucher', 'voucher_redeem', p_acquirer_id, p_terminal_id, p_stan, p_transmitted,
      v.sender_account_id, p_amount, p_currency, p_amount, p_currency, v_code, v_rule,
      v_approval, v_entry, t.id IS NOT NULL);
  RETURN ROW(v_code, v_rule, v_id, v_approval, p_amount, p_currency, 0, NULL, NULL, NULL, v_entry, false)::auth_result;
END $$;

-- A customer's stop-payment: the merchant's (DE 42) recurring charges on
-- this card are answered 57 from now on. Adding one that is active already
-- is an error, as is lifting one that is not there. Both audit-logged.
CREATE FUNCTION stop_payment_add(p_card_id bigint, p_merchant_id text, p_reason text DEFAULT NULL,
                                 p_operator text DEFAULT session_user)
RETURNS bigint LANGUAGE plpgsql AS $$
DECLARE v_id bigint;
BEGIN
  IF p_merchant_id IS NULL OR p_merchant_id !~ '^[[:print:]]{1,15}$' THEN
    RAISE EXCEPTION 'merchant id must be 1 to 15 printable characters (DE 42)' USING ERRCODE = 'check_violation';
  END IF;
  -- The card row lock orders concurrent adds for one card.
  PERFORM 1 FROM cards WHERE id = p_card_id FOR NO KEY UPDATE;
  IF NOT FOUND THEN RAISE EXCEPTION 'no card %', p_card_id USING ERRCODE = 'no_data_found'; END IF;
  IF EXISTS (SELECT 1 FROM stop_payments WHERE card_id = p_card_id AND merchant_id = p_merchant_id
                                            AND lifted_at IS NULL) THEN
    RAISE EXCEPTION 'card % already has an active stop-payment for merchant %', p_card_id, p_merchant_id
      USING ERRCODE = 'unique_violation';
  END IF;
  INSERT INTO stop_payments (card_id, merchant_id, reason) VALUES (p_card_id, p_merchant_id, p_reason)
    RETURNING id INTO v_id;
  INSERT INTO audit_log (operator, action, object, details)
    VALUES (p_operator, 'stop_payment_add', 'card:' || p_card_id,
            jsonb_build_object('merchant', p_merchant_id, 'reason', p_reason, 'stop_payment', v_id));
  RETURN v_id;
END $$;

CREATE FUNCTION stop_payment_remove(p_card_id bigint, p_merchant_id text, p_operator text DEFAULT session_user)
RETURNS timestamptz LANGUAGE plpgsql AS $$
DECLARE v_id bigint; v_at timestamptz := clock_timestamp();
BEGIN
  PERFORM 1 FROM cards WHERE id = p_card_id FOR NO KEY UPDATE;
  IF NOT FOUND THEN RAISE EXCEPTION 'no card %', p_card_id USING ERRCODE = 'no_data_found'; END IF;
  UPDATE stop_payments SET lifted_at = v_at
   WHERE card_id = p_card_id AND merchant_id = p_merchant_id AND lifted_at IS NULL
   RETURNING id INTO v_id;
  IF NOT FOUND THEN
    RAISE EXCEPTION 'card % has no active stop-payment for merchant %', p_card_id, p_merchant_id
      USING ERRCODE = 'no_data_found';
  END IF;
  INSERT INTO audit_log (operator, action, object, details)
    VALUES (p_operator, 'stop_payment_remove', 'card:' || p_card_id,
            jsonb_build_object('merchant', p_merchant_id, 'stop_payment', v_id, 'at', v_at));
  RETURN v_at;
END $$;
