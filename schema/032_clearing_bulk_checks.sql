-- Clearing import, third pass on speed (issue 8): the balance check of a
-- bulk posting queued once per statement instead of once per entry, and
-- the file's exceptions found without reading its records back, and only
-- duplicate ARNs ranked. Measured per
-- statement on a million-record import (docs/clearing.md, "Speed").
--
--   1. The balance check at commit. With ledger.bulk on, 027 still queued
--      one deferred trigger event per entry, and at commit a million
--      PL/pgSQL calls each found its entry inside the range the first one
--      had checked and returned: 2.3 s of a 3.4 s commit. Now, with
--      ledger.bulk on, the per-entry trigger is not queued at all (its WHEN
--      condition is evaluated as the row goes in). A statement trigger on
--      journal_entries queues one check instead: a row in
--      ledger_bulk_checks with the lowest and highest id the statement
--      inserted, whose deferred trigger checks every entry in that range in
--      one grouped query at commit (or SET CONSTRAINTS ... IMMEDIATE).
--      Every entry is still checked: one inserted without ledger.bulk by
--      its own trigger, one inserted with it by its statement's range. The
--      range may include other transactions' entries; those committed were
--      checked at their own commit and balance, those not committed are not
--      seen. The setting does not turn any check off.
--   2. clearing_import() queued the file's exceptions by reading every
--      record of the file back (0.8 s for a million, with none to queue).
--      A partial index holds only the exceptions.
--   3. The rank of a record among the file's records with its ARN (a
--      duplicate is one ranked after the first) was computed for every
--      record: a sort of a million rows, and a hash join that brought the
--      rank back to the wide staged rows. Only records whose ARN and kind
--      occur more than once in the file are ranked now; every other record
--      is first of its ARN, as before. Matching at a million records: 12.0
--      to 10.8 s, with the same result for every record.

-- 1.
CREATE TABLE ledger_bulk_checks (
  id bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
  lo bigint NOT NULL,
  hi bigint NOT NULL,
  CHECK (lo <= hi)
);
COMMENT ON TABLE ledger_bulk_checks IS
  'Balance checks of entries posted with ledger.bulk on, queued by their statement and run at commit; '
  'a row lives only inside the transaction that posted them.';

-- Every entry with an id in [p_lo, p_hi] balances per currency.
CREATE FUNCTION journal_entries_check_range(p_lo bigint, p_hi bigint) RETURNS void
LANGUAGE plpgsql SET work_mem = '256MB' AS $$    -- the grouping of a file's lines, in memory
DECLARE
  bad smallint;
  bad_entry bigint;
BEGIN
  SELECT entry_id, currency INTO bad_entry, bad FROM journal_lines WHERE entry_id BETWEEN p_lo AND p_hi
   GROUP BY 1, 2 HAVING sum(amount) <> 0 LIMIT 1;
  IF FOUND THEN
    RAISE EXCEPTION 'journal entry % does not balance in currency %', bad_entry, bad
      USING ERRCODE = 'check_violation';
  END IF;
END $$;

CREATE FUNCTION ledger_bulk_check() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
  PERFORM journal_entries_check_range(NEW.lo, NEW.hi);
  DELETE FROM ledger_bulk_checks WHERE id = NEW.id;
  RETURN NULL;
END $$;
CREATE CONSTRAINT TRIGGER ledger_bulk_checks_run AFTER INSERT ON ledger_bulk_checks
  DEFERRABLE INITIALLY DEFERRED FOR EACH ROW EXECUTE FUNCTION ledger_bulk_check();

CREATE FUNCTION journal_entries_queue_bulk_check() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
  INSERT INTO ledger_bulk_checks (lo, hi)
  SELECT min(id), max(id) FROM new_entries HAVING count(*) > 0;
  RETURN NULL;
END $$;
CREATE TRIGGER journal_entries_bulk_balanced AFTER INSERT ON journal_entries
  REFERENCING NEW TABLE AS new_entries FOR EACH STATEMENT
  WHEN (current_setting('ledger.bulk', true) IS NOT DISTINCT FROM 'on')
  EXECUTE FUNCTION journal_entries_queue_bulk_check();

-- The per-entry check, now only for entries inserted without ledger.bulk,
-- is the range check of one entry: 027's range bookkeeping
-- (ledger.checked_*) has no use left.
CREATE OR REPLACE FUNCTION journal_entry_check_balanced() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
  PERFORM journal_entries_check_range(NEW.id, NEW.id);
  RETURN NULL;
END $$;
DROP TRIGGER journal_entries_balanced ON journal_entries;
CREATE CONSTRAINT TRIGGER journal_entries_balanced AFTER INSERT ON journal_entries
  DEFERRABLE INITIALLY DEFERRED FOR EACH ROW
  WHEN (current_setting('ledger.bulk', true) IS DISTINCT FROM 'on')
  EXECUTE FUNCTION journal_entry_check_balanced();

-- 2. The file's exceptions, for clearing_import()'s last statement
--    (SELECT ... WHERE file_id = f AND outcome = 'exception'); only
--    exceptions are in it.
CREATE INDEX clearing_records_exceptions ON clearing_records (file_id) WHERE outcome = 'exception';

-- 3.
SELECT migration_edit_function(
  'clearing_import(card_scheme, text, bytea, date, text, bigint, boolean, boolean, integer, bigint)',
  ARRAY[ARRAY['FROM clearing_stage WHERE arn IS NOT NULL) rk ON rk.seq = st.seq',
              'FROM clearing_stage' || chr(10) ||
              '                WHERE (arn, kind) IN (SELECT arn, kind FROM clearing_stage WHERE arn IS NOT NULL' || chr(10) ||
              '                                       GROUP BY 1, 2 HAVING count(*) > 1)) rk ON rk.seq = st.seq']],
  '032');
