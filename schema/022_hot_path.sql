-- Two costs on every authorisation, found by profiling the end-to-end
-- benchmark (docs/benchmarks.md, "What the profile showed").
--
-- 1. internal_account() was a LANGUAGE sql function with a FROM clause:
--    PostgreSQL cannot inline such a function into its caller, so every
--    call parsed and planned its query again (fmgr_sql: about a fifth of
--    the database's CPU time per withdrawal, three calls per posting).
--    In PL/pgSQL the query's plan is prepared once per session.
CREATE OR REPLACE FUNCTION internal_account(p_purpose text, p_currency smallint) RETURNS bigint
  LANGUAGE plpgsql STABLE AS $$
BEGIN
  RETURN (SELECT id FROM accounts WHERE kind = 'internal' AND purpose = p_purpose AND currency = p_currency);
END $$;

-- 2. auth_log.retention_class referenced retention_classes: the foreign key
--    check locks the referenced row (FOR KEY SHARE), and every concurrent
--    authorisation locks the same row 'auth' or 'txn', which makes the
--    lock a multixact and writes the retention_classes page on every
--    insert. The five classes are the bank's terms (PRODUCTS.md,
--    "Records"); a new class needs a migration anyway, which widens this
--    check. The rows of retention_classes can no longer be deleted or
--    renamed while the check names them.
ALTER TABLE auth_log DROP CONSTRAINT auth_log_retention_class_fkey;
ALTER TABLE auth_log ADD CONSTRAINT auth_log_retention_class_check
  CHECK (retention_class IN ('txn', 'txn_small', 'auth', 'correction', 'audit'));

CREATE FUNCTION retention_classes_keep() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
  IF TG_OP = 'DELETE' OR NEW.code <> OLD.code THEN
    RAISE EXCEPTION 'retention class % is named by auth_log''s check; change it in a migration', OLD.code;
  END IF;
  RETURN NEW;
END $$;
CREATE TRIGGER retention_classes_keep BEFORE UPDATE OR DELETE ON retention_classes
  FOR EACH ROW EXECUTE FUNCTION retention_classes_keep();
