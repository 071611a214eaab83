-- A clearing exception resolved to the account its authorisation held
-- (over tolerance, typically) now pays the authorisation's fees, as a
-- matched or late presentment does (017, part B): the flat fee the
-- authorisation charged, and its conversion fee scaled to the amount
-- posted. Before, the resolution completed the hold (which held principal
-- and fees) and posted the principal only: a shop that presented more than
-- the tolerance cost the bank its fee. Posted to any other account, or
-- written off, nothing changes: no fee is charged, as before.
SELECT migration_edit_function('clearing_exception_resolve(bigint, text, boolean, text, text)', ARRAY[
    ARRAY['  v_rate numeric;' || chr(10) || 'BEGIN',
          '  v_rate numeric;' || chr(10) || '  v_fee bigint;' || chr(10) || '  v_conv bigint;' || chr(10) || 'BEGIN'],
    ARRAY['    UPDATE holds SET status = ''completed'', closed_at = now()' || chr(10),
          '    -- The authorisation''s fees when the account is the one it held (030).' || chr(10) ||
          '    SELECT l.fee,' || chr(10) ||
          '           CASE WHEN r.currency = a.currency THEN 0' || chr(10) ||
          '                WHEN coalesce(cm.amount_acct, l.amount_acct) > 0' || chr(10) ||
          '                  THEN l.fee_conversion * v_amt / coalesce(cm.amount_acct, l.amount_acct)' || chr(10) ||
          '                ELSE 0 END' || chr(10) ||
          '      INTO v_fee, v_conv' || chr(10) ||
          '      FROM auth_log l' || chr(10) ||
          '      LEFT JOIN LATERAL (SELECT cx.amount_acct FROM auth_log cx' || chr(10) ||
          '                          WHERE l.completed AND cx.original_auth_id = l.id AND cx.msg_class = ''completion''' ||
          chr(10) ||
          '                            AND cx.response_code = ''00'' ORDER BY cx.id DESC LIMIT 1) cm ON true' || chr(10) ||
          '     WHERE l.id = r.matched_auth_id AND l.account_id = a.id AND r.kind <> ''credit'';' || chr(10) ||
          '    IF coalesce(v_fee, 0) > 0 THEN' || chr(10) ||
          '      PERFORM post_transfer(v_entry, a.id, a.currency, -v_fee,' || chr(10) ||
          '                            internal_account(''fee_income'', a.currency), a.currency, v_fee, ''fee'');' ||
          chr(10) ||
          '    END IF;' || chr(10) ||
          '    IF coalesce(v_conv, 0) > 0 THEN' || chr(10) ||
          '      PERFORM post_transfer(v_entry, a.id, a.currency, -v_conv,' || chr(10) ||
          '                            internal_account(''fx_income'', a.currency), a.currency, v_conv,' ||
          ' ''conversion_fee'');' || chr(10) ||
          '    END IF;' || chr(10) ||
          '    UPDATE holds SET status = ''completed'', closed_at = now()' || chr(10)]
  ], '030');
