-- Clearing import speed (issue 8: a million IPM records in 60 s). Profiled
-- per statement with auto_explain on 200,000 records (docs/clearing.md,
-- "Speed"); each part below removes a cost that grew with the file, and
-- keeps the rule it served.
--
--   1. The balance check of entries, at commit: one query per entry
--      (5.5 s of 27 s). When a transaction says it posts in bulk, the
--      first check covers every entry from there on in one pass.
--   2. Row-by-row foreign keys on the file's lines and records: one locking
--      look-up per key per row (2.7 s for the lines' accounts, 3.1 s for
--      the records' four keys). Checked per statement instead; the parents'
--      side (no delete of what is referenced) by delete triggers.
--   3. Every cardholder account updated twice, once by the release of its
--      holds and once by its lines (and the second update of a row in one
--      transaction fires the row's own foreign key checks again: 0.6 s).
--      Inside clearing_import() the holds' change waits for the lines and
--      both go in one update.
--   4. clearing_import(): its own planner settings (no JIT compilation of
--      the big statements, sorts in memory), statistics on its work tables,
--      the entry ids drawn while the plan is made rather than by a second
--      pass over it, and (1) and (3).

-- 1. Entries balance per currency, checked at commit (017). With
--    ledger.bulk = on in the transaction (SET LOCAL, as clearing_import()
--    does), the check of entry N checks every entry from N to the newest in
--    one grouped query over their lines, and remembers that range for the
--    rest of the statement that fires the checks (COMMIT, or SET
--    CONSTRAINTS ... IMMEDIATE): the entries in it are not checked one by
--    one again. The range grows if a check fires outside it, so each entry
--    is covered once. Entries of other transactions in the range were
--    checked at their own commit and are balanced: they add work, never a
--    false refusal. Without the setting, the check is per entry as before
--    (an authorisation posts one entry: no range to gain from).
--    The range is one of ids. An entry made after a check, within the same
--    statement and with an id picked by hand inside the range, would not be
--    checked; that needs the check made immediate first (SET CONSTRAINTS)
--    and an id not drawn from the sequence, whose later values all lie
--    above the range. Every caller draws entry ids from the sequence.
CREATE OR REPLACE FUNCTION journal_entry_check_balanced() RETURNS trigger LANGUAGE plpgsql AS $$
DECLARE
  bad smallint;
  bad_entry bigint;
  v_key text;
  v_lo bigint;    -- the range checked so far in this statement
  v_hi bigint;
  v_from bigint;  -- the part of it this check adds
  v_to bigint;
BEGIN
  IF current_setting('ledger.bulk', true) IS DISTINCT FROM 'on' THEN
    SELECT currency INTO bad FROM journal_lines
     WHERE entry_id = NEW.id GROUP BY currency HAVING sum(amount) <> 0 LIMIT 1;
    IF FOUND THEN
      RAISE EXCEPTION 'journal entry % does not balance in currency %', NEW.id, bad
        USING ERRCODE = 'check_violation';
    END IF;
    RETURN NULL;
  END IF;

  -- The settings are the transaction's own (set_config(..., true)): the
  -- statement's start tells this statement's checks from an earlier one's.
  v_key := statement_timestamp()::text;
  IF current_setting('ledger.checked_key', true) = v_key THEN
    v_lo := current_setting('ledger.checked_lo')::bigint;
    v_hi := current_setting('ledger.checked_hi')::bigint;
    IF NEW.id BETWEEN v_lo AND v_hi THEN
      RETURN NULL;
    END IF;
  END IF;
  -- What of [NEW.id, newest] is not checked yet in this statement.
  IF v_lo IS NULL OR NEW.id > v_hi THEN
    v_from := coalesce(v_hi + 1, NEW.id);
    SELECT max(id) INTO v_to FROM journal_entries;
  ELSE
    v_from := NEW.id;
    v_to := v_lo - 1;
  END IF;
  PERFORM set_config('work_mem', '256MB', true);    -- the grouping of a file's lines, in memory
  EXECUTE 'SELECT entry_id, currency FROM journal_lines WHERE entry_id BETWEEN $1 AND $2'
          ' GROUP BY 1, 2 HAVING sum(amount) <> 0 LIMIT 1' INTO bad_entry, bad USING v_from, v_to;
  IF bad_entry IS NOT NULL THEN
    RAISE EXCEPTION 'journal entry % does not balance in currency %', bad_entry, bad
      USING ERRCODE = 'check_violation';
  END IF;
  PERFORM set_config('ledger.checked_key', v_key, true),
          set_config('ledger.checked_lo', least(v_from, coalesce(v_lo, v_from))::text, true),
          set_config('ledger.checked_hi', greatest(v_to, coalesce(v_hi, v_to))::text, true);
  RETURN NULL;
END $$;

-- 2a. Lines → accounts. journal_lines_apply (017) already joins every
--     line's account per statement; it now tells a missing account (23503)
--     from a line in another currency (23514), and makes sure every account
--     it names is locked: those whose balance changes by their update
--     (which must find the row), those whose lines sum to zero by a key
--     share lock. A concurrent delete of the account then either waits for
--     this transaction and sees its lines (accounts_keep_posted, below), or
--     went first and this statement finds no row and fails.
CREATE OR REPLACE FUNCTION accounts_apply_deltas(p_accounts bigint[], p_deltas bigint[], p_held boolean)
RETURNS void LANGUAGE plpgsql AS $$
DECLARE
  n integer := coalesce(cardinality(p_accounts), 0);
BEGIN
  IF n <= 16 THEN
    FOR i IN 1 .. n LOOP
      IF p_held THEN
        UPDATE accounts SET held_amount = held_amount + p_deltas[i] WHERE id = p_accounts[i];
      ELSE
        UPDATE accounts SET ledger_balance = ledger_balance + p_deltas[i] WHERE id = p_accounts[i];
      END IF;
      IF NOT FOUND THEN
        RAISE EXCEPTION 'account % does not exist', p_accounts[i] USING ERRCODE = 'foreign_key_violation';
      END IF;
    END LOOP;
  ELSIF p_held THEN
    PERFORM accounts_apply_both(p_accounts, array_fill(0::bigint, ARRAY[n]), p_deltas);
  ELSE
    PERFORM accounts_apply_both(p_accounts, p_deltas, array_fill(0::bigint, ARRAY[n]));
  END IF;
END $$;

-- (journal_lines_apply() itself is in 3, with the held amounts it takes along.)
ALTER TABLE journal_lines DROP CONSTRAINT journal_lines_account_id_fkey;

-- An account that has posted lines is never deleted (close it instead).
CREATE FUNCTION accounts_keep_posted() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
  IF EXISTS (SELECT 1 FROM journal_lines WHERE account_id = OLD.id) THEN
    RAISE EXCEPTION 'account % has posted lines and cannot be deleted', OLD.id
      USING ERRCODE = 'foreign_key_violation';
  END IF;
  RETURN OLD;
END $$;
CREATE TRIGGER accounts_keep_posted BEFORE DELETE ON accounts
  FOR EACH ROW EXECUTE FUNCTION accounts_keep_posted();

-- 2b. Clearing records → their file, authorisation, entry and the record
--     they reverse: one set-based check per statement. The file rows are
--     key-share locked (a file's records name one or two), as the foreign
--     key did. Entries are never deleted (003: ledger_immutable). The
--     authorisations are not locked: an authorisation is matched only
--     within 7 days of its date, and auth_log rows are kept for years
--     (PRODUCTS.md, "Records"), so a delete and a match of one row at once
--     would be a purge gone wrong; the delete triggers below refuse it
--     whenever it is not concurrent.
CREATE FUNCTION clearing_records_check_refs() RETURNS trigger LANGUAGE plpgsql AS $$
DECLARE
  what text;
  v_id bigint;
BEGIN
  PERFORM 1 FROM clearing_files WHERE id IN (SELECT DISTINCT file_id FROM new_records) ORDER BY id FOR KEY SHARE;
  SELECT x.what, x.id INTO what, v_id FROM (
    SELECT 'clearing file' AS what, n.file_id AS id FROM (SELECT DISTINCT file_id FROM new_records) n
     WHERE NOT EXISTS (SELECT 1 FROM clearing_files f WHERE f.id = n.file_id)
    UNION ALL
    SELECT 'authorisation', n.matched_auth_id FROM new_records n
     WHERE n.matched_auth_id IS NOT NULL AND NOT EXISTS (SELECT 1 FROM auth_log l WHERE l.id = n.matched_auth_id)
    UNION ALL
    SELECT 'journal entry', n.entry_id FROM new_records n
     WHERE n.entry_id IS NOT NULL AND NOT EXISTS (SELECT 1 FROM journal_entries e WHERE e.id = n.entry_id)
    UNION ALL
    SELECT 'clearing record', n.reverses_record_id FROM new_records n
     WHERE n.reverses_record_id IS NOT NULL
       AND NOT EXISTS (SELECT 1 FROM clearing_records r WHERE r.id = n.reverses_record_id)
    LIMIT 1) x;
  IF FOUND THEN
    RAISE EXCEPTION 'clearing record refers to % %, which does not exist', what, v_id
      USING ERRCODE = 'foreign_key_violation';
  END IF;
  RETURN NULL;
END $$;
CREATE TRIGGER clearing_records_refs_insert AFTER INSERT ON clearing_records
  REFERENCING NEW TABLE AS new_records FOR EACH STATEMENT EXECUTE FUNCTION clearing_records_check_refs();
CREATE TRIGGER clearing_records_refs_update AFTER UPDATE ON clearing_records
  REFERENCING NEW TABLE AS new_records FOR EACH STATEMENT EXECUTE FUNCTION clearing_records_check_refs();
ALTER TABLE clearing_records
  DROP CONSTRAINT clearing_records_file_id_fkey,
  DROP CONSTRAINT clearing_records_matched_auth_id_fkey,
  DROP CONSTRAINT clearing_records_entry_id_fkey,
  DROP CONSTRAINT clearing_records_reverses_record_id_fkey;

-- The other half of those keys: what a clearing record names is not
-- deleted. One function, told by its argument which column to look in.
CREATE FUNCTION clearing_records_keep_refs() RETURNS trigger LANGUAGE plpgsql AS $$
DECLARE v_id bigint;
BEGIN
  EXECUTE format('SELECT o.id FROM old_rows o WHERE EXISTS (SELECT 1 FROM clearing_records r WHERE r.%I = o.id)'
                 ' LIMIT 1', TG_ARGV[0]) INTO v_id;
  IF v_id IS NOT NULL THEN
    RAISE EXCEPTION '% % is referred to by a clearing record and cannot be deleted', TG_TABLE_NAME, v_id
      USING ERRCODE = 'foreign_key_violation';
  END IF;
  RETURN NULL;
END $$;
CREATE TRIGGER clearing_files_keep AFTER DELETE ON clearing_files REFERENCING OLD TABLE AS old_rows
  FOR EACH STATEMENT EXECUTE FUNCTION clearing_records_keep_refs('file_id');
CREATE TRIGGER auth_log_keep_cleared AFTER DELETE ON auth_log REFERENCING OLD TABLE AS old_rows
  FOR EACH STATEMENT EXECUTE FUNCTION clearing_records_keep_refs('matched_auth_id');
CREATE TRIGGER clearing_records_keep_reversed AFTER DELETE ON clearing_records REFERENCING OLD TABLE AS old_rows
  FOR EACH STATEMENT EXECUTE FUNCTION clearing_records_keep_refs('reverses_record_id');

-- 3. The held amounts' change, deferred to the lines. While the temporary
--    table ledger_pending_held exists (clearing_import() creates it, and
--    drops it before it returns, after ledger_pending_flush()), the holds'
--    triggers add their change per account to it instead of updating the
--    accounts; the next statement's lines take it into their one update.
--    clearing_import() has locked every account it touches before it
--    changes a hold, so nothing is locked out of order meanwhile.
CREATE FUNCTION ledger_pending_add(p_accounts bigint[], p_deltas bigint[]) RETURNS boolean
LANGUAGE plpgsql AS $$
BEGIN
  IF to_regclass('pg_temp.ledger_pending_held') IS NULL THEN
    RETURN false;
  END IF;
  INSERT INTO pg_temp.ledger_pending_held (account_id, delta) SELECT * FROM unnest(p_accounts, p_deltas);
  RETURN true;
END $$;

-- Apply what is pending (ledger_balance and held_amount deltas in one
-- update per account), in the global lock order.
CREATE FUNCTION accounts_apply_both(p_accounts bigint[], p_ledger bigint[], p_held bigint[])
RETURNS void LANGUAGE plpgsql AS $$
DECLARE
  n integer := coalesce(cardinality(p_accounts), 0);
  done integer;
BEGIN
  PERFORM 1 FROM accounts a JOIN unnest(p_accounts) WITH ORDINALITY AS u(id, k) ON a.id = u.id
    ORDER BY u.k FOR NO KEY UPDATE OF a;
  UPDATE accounts a SET ledger_balance = a.ledger_balance + d.ledger, held_amount = a.held_amount + d.held
    FROM unnest(p_accounts, p_ledger, p_held) AS d(account_id, ledger, held) WHERE a.id = d.account_id;
  GET DIAGNOSTICS done = ROW_COUNT;
  IF done <> n THEN
    RAISE EXCEPTION '% of % accounts to update do not exist', n - done, n USING ERRCODE = 'foreign_key_violation';
  END IF;
END $$;

CREATE FUNCTION ledger_pending_flush() RETURNS void LANGUAGE plpgsql AS $$
DECLARE
  acc bigint[];
  del bigint[];
BEGIN
  IF to_regclass('pg_temp.ledger_pending_held') IS NULL THEN
    RETURN;
  END IF;
  SELECT array_agg(account_id ORDER BY account_id), array_agg(delta ORDER BY account_id) INTO acc, del
    FROM (SELECT account_id, sum(delta)::bigint AS delta FROM pg_temp.ledger_pending_held
           GROUP BY account_id HAVING sum(delta) <> 0) d;
  DROP TABLE pg_temp.ledger_pending_held;
  PERFORM accounts_apply_deltas(acc, del, true);
END $$;

DO $$
DECLARE
  fn text;
  def text;
  old text := 'PERFORM accounts_apply_deltas(acc, del, true);';
  new text := 'IF NOT ledger_pending_add(acc, del) THEN PERFORM accounts_apply_deltas(acc, del, true); END IF;';
BEGIN
  FOREACH fn IN ARRAY ARRAY['holds_apply_insert()', 'holds_apply_update()', 'holds_apply_delete()'] LOOP
    def := pg_get_functiondef(fn::regprocedure);
    IF position(old IN def) = 0 THEN
      RAISE EXCEPTION '% is not the one 027 expects', fn;
    END IF;
    EXECUTE replace(def, old, new);
  END LOOP;
END $$;

-- journal_lines_apply as in (2a), taking the pending held change along.
-- Without a pending change (every posting but a clearing file's) it is
-- one query, as in 017: an authorisation pays nothing for the bulk path.
CREATE OR REPLACE FUNCTION journal_lines_apply() RETURNS trigger LANGUAGE plpgsql AS $$
DECLARE
  acc bigint[];
  del bigint[];
  hel bigint[];
  still bigint[];
  missing bigint;
  bad_account bigint;
  bad_currency smallint;
  pending boolean := to_regclass('pg_temp.ledger_pending_held') IS NOT NULL;
BEGIN
  IF pending THEN
    SELECT min(g.account_id) FILTER (WHERE a.id IS NULL),
           min(g.account_id) FILTER (WHERE a.currency <> g.currency),
           min(g.currency) FILTER (WHERE a.currency <> g.currency)
      INTO missing, bad_account, bad_currency
      FROM (SELECT account_id, currency FROM new_lines GROUP BY 1, 2) g
      LEFT JOIN accounts a ON a.id = g.account_id;
  ELSE
    SELECT array_agg(g.account_id ORDER BY a.kind = 'internal', g.account_id) FILTER (WHERE g.delta <> 0),
           array_agg(g.delta ORDER BY a.kind = 'internal', g.account_id) FILTER (WHERE g.delta <> 0),
           array_agg(g.account_id ORDER BY g.account_id) FILTER (WHERE g.delta = 0 AND a.id IS NOT NULL),
           min(g.account_id) FILTER (WHERE a.id IS NULL),
           min(g.account_id) FILTER (WHERE a.currency <> g.currency),
           min(g.currency) FILTER (WHERE a.currency <> g.currency)
      INTO acc, del, still, missing, bad_account, bad_currency
      FROM (SELECT account_id, currency, sum(amount)::bigint AS delta FROM new_lines GROUP BY 1, 2) g
      LEFT JOIN accounts a ON a.id = g.account_id;
  END IF;
  IF missing IS NOT NULL THEN
    RAISE EXCEPTION 'journal line refers to account %, which does not exist', missing
      USING ERRCODE = 'foreign_key_violation';
  END IF;
  IF bad_account IS NOT NULL THEN
    RAISE EXCEPTION 'journal line currency % does not match account %', bad_currency, bad_account
      USING ERRCODE = 'check_violation';
  END IF;
  IF pending THEN
    SELECT array_agg(d.account_id ORDER BY a.kind = 'internal', d.account_id) FILTER (WHERE d.ledger <> 0 OR d.held <> 0),
           array_agg(d.ledger ORDER BY a.kind = 'internal', d.account_id) FILTER (WHERE d.ledger <> 0 OR d.held <> 0),
           array_agg(d.held ORDER BY a.kind = 'internal', d.account_id) FILTER (WHERE d.ledger <> 0 OR d.held <> 0),
           array_agg(d.account_id ORDER BY d.account_id) FILTER (WHERE d.ledger = 0 AND d.held = 0 AND d.named)
      INTO acc, del, hel, still
      FROM (SELECT account_id, sum(ledger)::bigint AS ledger, sum(held)::bigint AS held, bool_or(named) AS named
              FROM (SELECT account_id, amount AS ledger, 0 AS held, true AS named FROM new_lines
                    UNION ALL
                    SELECT account_id, 0, delta, false FROM pg_temp.ledger_pending_held) u
             GROUP BY account_id) d
      JOIN accounts a ON a.id = d.account_id;
    TRUNCATE pg_temp.ledger_pending_held;
    PERFORM accounts_apply_both(acc, del, hel);
  ELSE
    PERFORM accounts_apply_deltas(acc, del, false);
  END IF;
  IF still IS NOT NULL
     AND (SELECT count(*) FROM (SELECT 1 FROM accounts WHERE id = ANY (still) ORDER BY id FOR KEY SHARE) k)
         <> cardinality(still) THEN
    RAISE EXCEPTION 'journal line refers to an account that was deleted meanwhile'
      USING ERRCODE = 'foreign_key_violation';
  END IF;
  RETURN NULL;
END $$;

-- 4. clearing_import(): the same statements, with these changes.
DO $$
DECLARE
  def text := pg_get_functiondef('clearing_import(card_scheme, text, bytea, date, text, bigint, boolean, boolean,'
                                 ' integer, bigint)'::regprocedure);
  edits text[][] := ARRAY[
    -- the bulk balance check (1)
    ARRAY['  SELECT * INTO s FROM bank_settings;',
          '  SELECT * INTO s FROM bank_settings;' || chr(10) ||
          '  PERFORM set_config(''ledger.bulk'', ''on'', true);' || chr(10) ||
          '  CREATE TEMP TABLE ledger_pending_held (account_id bigint NOT NULL, delta bigint NOT NULL) ON COMMIT DROP;' ||
          chr(10) || '  ANALYZE clearing_stage;'],
    ARRAY['   ORDER BY from_currency, to_currency, effective_from DESC;',
          '   ORDER BY from_currency, to_currency, effective_from DESC;' || chr(10) ||
          '  ANALYZE clearing_pv, clearing_rates;'],
    ARRAY['    FROM currencies c;',
          '    FROM currencies c;' || chr(10) || '  ANALYZE clearing_gl;'],
    ARRAY['  RETURN f;',
          '  PERFORM ledger_pending_flush();' || chr(10) || '  RETURN f;'],
    -- duplicate ARNs ranked on (seq, arn, kind) alone: the window over the
    -- whole record sorted every column of every record (on disk for a
    -- million records)
    ARRAY['         CASE WHEN st.arn IS NULL THEN 1' || chr(10) ||
          '              ELSE row_number() OVER (PARTITION BY st.arn, st.kind ORDER BY st.seq) END AS arn_rank,',
          '         coalesce(rk.arn_rank, 1) AS arn_rank,'],
    ARRAY['    FROM clearing_stage st' || chr(10),
          '    FROM clearing_stage st' || chr(10) ||
          '    LEFT JOIN (SELECT seq, row_number() OVER (PARTITION BY arn, kind ORDER BY seq) AS arn_rank' ||
          ' FROM clearing_stage WHERE arn IS NOT NULL) rk ON rk.seq = st.seq' || chr(10)],
    -- statistics for the planner on the work table (no autovacuum on temp tables)
    ARRAY['   ORDER BY abs(l.amount_txn - st.amount), l.id LIMIT 1) m ON true;',
          '   ORDER BY abs(l.amount_txn - st.amount), l.id LIMIT 1) m ON true;' || chr(10) ||
          '  ANALYZE clearing_work;'],
    -- entry ids drawn with the plan (in record order, as the UPDATE did), not
    -- by an UPDATE of every row after it
    ARRAY['AND NOT (y.kind = ''credit'' AND y.auth_id IS NOT NULL)) AS posts' || chr(10) ||
          '    FROM y WHERE y.outcome IS NOT NULL;' || chr(10) || chr(10) ||
          '  ALTER TABLE clearing_plan ADD COLUMN entry_id bigint;' || chr(10) ||
          '  UPDATE clearing_plan SET entry_id = nextval(pg_get_serial_sequence(''journal_entries'', ''id'')) WHERE posts;',
          'AND NOT (y.kind = ''credit'' AND y.auth_id IS NOT NULL)) AS posts,' || chr(10) ||
          '         CASE WHEN y.outcome IN (''matched'', ''late'', ''force'')' ||
          ' AND NOT (y.kind = ''credit'' AND y.auth_id IS NOT NULL)' || chr(10) ||
          '              THEN nextval(''journal_entries_id_seq'') END AS entry_id' || chr(10) ||
          '    FROM y WHERE y.outcome IS NOT NULL ORDER BY y.seq;' || chr(10) ||
          '  ANALYZE clearing_plan;']
  ];
BEGIN
  FOR i IN 1 .. array_length(edits, 1) LOOP
    IF position(edits[i][1] IN def) = 0 THEN
      RAISE EXCEPTION 'clearing_import() is not the one 027 expects (edit %)', i;
    END IF;
    def := replace(def, edits[i][1], edits[i][2]);
  END LOOP;
  EXECUTE def;
END $$;
ALTER FUNCTION clearing_import(card_scheme, text, bytea, date, text, bigint, boolean, boolean, integer, bigint)
  SET jit = off SET work_mem = '1GB';
