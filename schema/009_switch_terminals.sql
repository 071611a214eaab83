-- What switchd needs beyond authorise(): terminal keys for sign-on, key
-- change and MAC checks, and an honest answer to a repeat whose original
-- approval the switch has since reversed.

-- A terminal's identity and keys (LMK forms) for switchd; no row when the
-- terminal is unknown.
CREATE FUNCTION terminal_keys(p_terminal_id text)
RETURNS TABLE (terminal_id text, kind terminal_kind, status text, acquirer_id text,
               tmk_lmk text, tpk_lmk text, tak_lmk text)
LANGUAGE sql STABLE AS $$
  SELECT t.terminal_id::text, t.kind, t.status, i.acquirer_id, m.key_lmk, p.key_lmk, a.key_lmk
    FROM terminals t
    JOIN institutions i ON i.id = t.institution_id
    LEFT JOIN crypto_keys m ON m.id = t.tmk_key_id
    LEFT JOIN crypto_keys p ON p.id = t.tpk_key_id
    LEFT JOIN crypto_keys a ON a.id = t.tak_key_id
   WHERE t.terminal_id = p_terminal_id
$$;

-- Store a key under the LMK and return its id; labels are unique per kind,
-- terminal and key id, so old keys stay for the record.
CREATE FUNCTION terminal_key_store(p_kind text, p_terminal_id text, p_key_lmk text, p_kcv text)
RETURNS integer LANGUAGE plpgsql AS $$
DECLARE v_id integer := nextval(pg_get_serial_sequence('crypto_keys', 'id'));
BEGIN
  INSERT INTO crypto_keys (id, kind, label, key_lmk, kcv)
    VALUES (v_id, p_kind, p_kind || ':' || p_terminal_id || ':' || v_id, p_key_lmk, upper(p_kcv));
  RETURN v_id;
END $$;

-- A terminal's master key, formed in the HSM at the key ceremony
-- (switchctl terminal set-tmk). Audit-logged.
CREATE FUNCTION terminal_set_tmk(p_terminal_id text, p_tmk_lmk text, p_kcv text,
                                 p_operator text DEFAULT session_user)
RETURNS void LANGUAGE plpgsql AS $$
BEGIN
  PERFORM 1 FROM terminals WHERE terminal_id = p_terminal_id FOR UPDATE;
  IF NOT FOUND THEN
    RAISE EXCEPTION 'unknown terminal %', p_terminal_id USING ERRCODE = 'no_data_found';
  END IF;
  -- A new TMK invalidates the working keys issued under the old one.
  UPDATE terminals SET tmk_key_id = terminal_key_store('TMK', p_terminal_id, p_tmk_lmk, p_kcv),
                       tpk_key_id = NULL, tak_key_id = NULL
   WHERE terminal_id = p_terminal_id;
  INSERT INTO audit_log (operator, action, object, details)
    VALUES (p_operator, 'terminal_tmk', 'terminal:' || p_terminal_id, jsonb_build_object('kcv', upper(p_kcv)));
END $$;

-- New working keys from a key change (0800 / 101), stored before switchd
-- answers the terminal so they are in force when the answer arrives.
CREATE FUNCTION terminal_set_keys(p_terminal_id text, p_tpk_lmk text, p_tpk_kcv text,
                                  p_tak_lmk text, p_tak_kcv text)
RETURNS void LANGUAGE plpgsql AS $$
BEGIN
  PERFORM 1 FROM terminals WHERE terminal_id = p_terminal_id FOR UPDATE;
  IF NOT FOUND THEN
    RAISE EXCEPTION 'unknown terminal %', p_terminal_id USING ERRCODE = 'no_data_found';
  END IF;
  UPDATE terminals SET tpk_key_id = terminal_key_store('TPK', p_terminal_id, p_tpk_lmk, p_tpk_kcv),
                       tak_key_id = terminal_key_store('TAK', p_terminal_id, p_tak_lmk, p_tak_kcv)
   WHERE terminal_id = p_terminal_id;
END $$;

-- A repeat is answered with the original's answer (WIRE.md), except when
-- the original was approved and has since been reversed, in full or in
-- part (for instance by switchd because its approval committed after the
-- terminal had already been told 91). Answering 00 again would pay out
-- money no hold covers, so such a repeat gets 91 and the terminal starts a
-- new transaction.
CREATE OR REPLACE FUNCTION auth_result_of(l auth_log, p_dup boolean) RETURNS auth_result
  LANGUAGE sql STABLE AS
$$ SELECT CASE
    WHEN p_dup AND l.msg_class = 'auth' AND l.response_code = '00' AND l.reversed_amount > 0 THEN
      ROW('91', 'repeat_of_reversed', l.id, NULL, NULL, NULL, 0, NULL, NULL, NULL, NULL, true)::auth_result
    ELSE
      ROW(l.response_code, l.rule, l.id, l.approval_code, l.amount_acct, l.currency_acct,
          l.fee + l.fee_conversion, l.ledger_after, l.available_after, l.hold_id, l.entry_id,
          p_dup)::auth_result
   END $$;
