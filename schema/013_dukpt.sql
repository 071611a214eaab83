-- DUKPT PIN pads (ANSI X9.24-1 TDES, X9.24-3 AES): a POS terminal whose PIN
-- pad was injected with a key derived from a Base Derivation Key sends its
-- PIN block under a per-transaction key with the Key Serial Number
-- (docs/message-profile.md, DE 48 tags KS and P4). The BDK stays in
-- hsm-sim; here it is kept as its LMK cryptogram, like every other key.

ALTER TABLE crypto_keys DROP CONSTRAINT crypto_keys_kind_check;
ALTER TABLE crypto_keys ADD CONSTRAINT crypto_keys_kind_check
  CHECK (kind IN ('PVK','CVK','TMK','TPK','TAK','ZPK','ZMK','BDK'));

ALTER TABLE terminals ADD COLUMN bdk_key_id integer REFERENCES crypto_keys;

-- terminal_keys() also gives the BDK of the terminal's PIN pad.
DROP FUNCTION terminal_keys(text);
CREATE FUNCTION terminal_keys(p_terminal_id text)
RETURNS TABLE (terminal_id text, kind terminal_kind, status text, acquirer_id text,
               tmk_lmk text, tpk_lmk text, tak_lmk text, bdk_lmk text)
LANGUAGE sql STABLE AS $$
  SELECT t.terminal_id::text, t.kind, t.status, i.acquirer_id, m.key_lmk, p.key_lmk, a.key_lmk,
         b.key_lmk
    FROM terminals t
    JOIN institutions i ON i.id = t.institution_id
    LEFT JOIN crypto_keys m ON m.id = t.tmk_key_id
    LEFT JOIN crypto_keys p ON p.id = t.tpk_key_id
    LEFT JOIN crypto_keys a ON a.id = t.tak_key_id
    LEFT JOIN crypto_keys b ON b.id = t.bdk_key_id
   WHERE t.terminal_id = p_terminal_id
$$;

-- The BDK a terminal's PIN pad derives from, formed in hsm-sim at a key
-- ceremony (switchctl terminal set-bdk) or loaded for the demo. Many PIN
-- pads share one BDK; each terminal gets its own crypto_keys row (label
-- BDK:TID:ID) so that a change of one is recorded. Audit-logged.
CREATE FUNCTION terminal_set_bdk(p_terminal_id text, p_bdk_lmk text, p_kcv text,
                                 p_operator text DEFAULT session_user)
RETURNS void LANGUAGE plpgsql AS $$
BEGIN
  PERFORM 1 FROM terminals WHERE terminal_id = p_terminal_id FOR UPDATE;
  IF NOT FOUND THEN
    RAISE EXCEPTION 'unknown terminal %', p_terminal_id USING ERRCODE = 'no_data_found';
  END IF;
  UPDATE terminals SET bdk_key_id = terminal_key_store('BDK', p_terminal_id, p_bdk_lmk, p_kcv)
   WHERE terminal_id = p_terminal_id;
  INSERT INTO audit_log (operator, action, object, details)
    VALUES (p_operator, 'terminal_bdk', 'terminal:' || p_terminal_id, jsonb_build_object('kcv', upper(p_kcv)));
END $$;
