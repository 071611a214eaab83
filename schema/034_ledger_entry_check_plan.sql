-- journal_lines_check_entry() (017): one primary-key probe per new line,
-- whatever the size of journal_entries when a session first plans it.
--
-- PL/pgSQL plans the trigger's query (new_lines LEFT JOIN journal_entries)
-- once per session and keeps the plan until something invalidates it,
-- normally the next ANALYZE of journal_entries. A session that first posts
-- while journal_entries is tiny (a new bank, the benchmark's bank with its
-- one opening entry) gets a hash join over a sequential scan of
-- journal_entries, and keeps it while the table grows: in scripts/bench e2e
-- every withdrawal read the whole journal, 15-19 ms per posting at 10,000
-- entries, and the database answered a third as many withdrawals per second
-- until autovacuum's first ANALYZE of the table, about a minute in (the
-- "dip after the overload" of earlier notes; auto_explain showed the plan).
--
-- With sequential scans, hash and merge joins off for this function only,
-- the planner's one way left is a nested loop probing journal_entries_pkey
-- for each line, right for any table size: the lines of one statement are
-- few, and the bulk postings of clearing are checked the same way, one
-- probe per line in the entries' order.

ALTER FUNCTION journal_lines_check_entry() SET enable_seqscan = off;
ALTER FUNCTION journal_lines_check_entry() SET enable_hashjoin = off;
ALTER FUNCTION journal_lines_check_entry() SET enable_mergejoin = off;
