-- A completed pre-authorisation in another currency pays the product's
-- conversion fee on its final amount (PRODUCTS.md: 2% of the amount,
-- rounded half up like every fee: bp_of()). complete_preauth() (006)
-- scaled the authorisation's already rounded fee and truncated: 400,000 KHR
-- authorised (96.62 USD, fee 1.93) and completed at 440,000 KHR (106.28 USD)
-- paid 1.93 * 106.28 / 96.62 = 2.12 instead of 2% of 106.28 = 2.13
-- (pos.rules, cb-preauth-khr). The fee comes from the product version that
-- priced the authorisation, as the other fees of the completion do.
--
-- Only that one statement changes, so the function is rewritten from its
-- own definition; the migration fails if the statement is not found.
DO $$
DECLARE
  def text := pg_get_functiondef('complete_preauth(text, text, text, text, text, text, bigint, text)'::regprocedure);
  old text := 'IF o.amount_acct > 0 THEN v_conv := (o.fee_conversion * v_amt) / o.amount_acct; END IF;';
  new text := 'IF o.currency_txn <> o.currency_acct THEN'
              ' v_conv := bp_of(v_amt, (SELECT fee_conversion_bp FROM product_versions WHERE id = o.fee_version_id));'
              ' END IF;';
BEGIN
  IF position(old IN def) = 0 THEN
    RAISE EXCEPTION 'complete_preauth() is not the one 023 expects';
  END IF;
  EXECUTE replace(def, old, new);
END $$;
