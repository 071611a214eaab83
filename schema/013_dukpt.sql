-- DUKPT PIN pads (ANSI X9.24-1 TDES, X9.24-3 AES): a POS terminal whose PIN
-- pad was injected with a key derived from a Base Derivation Key sends its
-- PIN block under a per-transaction key with the Key Serial Number
-- (docs/message-profile.md, DE 48 tags KS and P4). The BDK stays in
-- hsm-sim; here it is kept as its LMK cryptogram, like every other key.

ALTER TABLE crypto_keys DROP CONSTRAINT crypto_keys_kind_check;
ALTER TABLE crypto_keys ADD CONSTRAINT crypto_keys_kind_check
  CHECK (kind IN ('PVK','CVK','TMK','TPK','TAK','ZPK','ZMK','BDK'));

-- A PIN pad holds one DUKPT key, but a terminal may be re-equipped from a
-- TDES to an AES PIN pad (or the demo's pos-sim run with either): one BDK
-- of each variant. The KSN's length (20 / 24 hex) says which one a message
-- uses.
ALTER TABLE terminals ADD COLUMN bdk_key_id integer REFERENCES crypto_keys;      -- TDES (X9.24-1)
ALTER TABLE terminals ADD COLUMN aes_bdk_key_id integer REFERENCES crypto_keys;  -- AES (X9.24-3)

-- terminal_keys() also gives the BDK of the terminal's PIN pad.
DROP FUNCTION terminal_keys(text);
CREATE FUNCTION terminal_keys(p_terminal_id text)
RETURNS TABLE (terminal_id text, kind terminal_kind, status text, acquirer_id text,
               tmk_lmk text, tpk_lmk text, tak_lmk text, bdk_lmk text, aes_bdk_lmk text)
LANGUAGE sql STABLE AS $$
  SELECT t.terminal_id::text, t.kind, t.status, i.acquirer_id, m.key_lmk, p.key_lmk, a.key_lmk,
         b.key_lmk, e.key_lmk
    FROM terminals t
    JOIN institutions i ON i.id = t.institution_id
    LEFT JOIN crypto_keys m ON m.id = t.tmk_key_id
    LEFT JOIN crypto_keys p ON p.id = t.tpk_key_id
    LEFT JOIN crypto_keys a ON a.id = t.tak_key_id
    LEFT JOIN crypto_keys b ON b.id = t.bdk_key_id
    LEFT JOIN crypto_keys e ON e.id = t.aes_bdk_key_id
   WHERE t.terminal_id = p_terminal_id
$$;

-- The BDK a terminal's PIN pad derives from, formed in hsm-sim at a key
-- ceremony (switchctl terminal set-bdk) or loaded for the demo; a TDES key
-- (LMK form starting U or T) replaces the terminal's TDES BDK, an AES one
-- (P, Q, R) its AES BDK. Many PIN pads share one BDK; each terminal gets
-- its own crypto_keys row (label BDK:TID:ID) so that a change of one is
-- recorded. Audit-logged.
CREATE FUNCTION terminal_set_bdk(p_terminal_id text, p_bdk_lmk text, p_kcv text,
                                 p_operator text DEFAULT session_user)
RETURNS void LANGUAGE plpgsql AS $$
BEGIN
  PERFORM 1 FROM terminals WHERE terminal_id = p_terminal_id FOR UPDATE;
  IF NOT FOUND THEN
    RAISE EXCEPTION 'unknown terminal %', p_terminal_id USING ERRCODE = 'no_data_found';
  END IF;
  IF left(p_bdk_lmk, 1) IN ('U', 'T') THEN
    UPDATE terminals SET bdk_key_id = terminal_key_store('BDK', p_terminal_id, p_bdk_lmk, p_kcv)
     WHERE terminal_id = p_terminal_id;
  ELSIF left(p_bdk_lmk, 1) IN ('P', 'Q', 'R') THEN
    UPDATE terminals SET aes_bdk_key_id = terminal_key_store('BDK', p_terminal_id, p_bdk_lmk, p_kcv)
     WHERE terminal_id = p_terminal_id;
  ELSE
    RAISE EXCEPTION 'terminal_set_bdk: not a TDES or AES key under the LMK' USING ERRCODE = 'check_violation';
  END IF;
  INSERT INTO audit_log (operator, action, object, details)
    VALUES (p_operator, 'terminal_bdk', 'terminal:' || p_terminal_id, jsonb_build_object('kcv', upper(p_kcv),
            'dukpt', CASE WHEN left(p_bdk_lmk, 1) IN ('U', 'T') THEN 'tdes' ELSE 'aes' END));
END $$;
