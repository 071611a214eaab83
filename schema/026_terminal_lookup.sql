-- terminals.terminal_id is char(8); every function that looks a terminal up
-- (authorise(), terminal_keys(), reverse(), ...) compares it with a text
-- argument, which PostgreSQL resolves as terminal_id::text = $1: the unique
-- index on the char(8) column cannot serve that, so each look-up read the
-- whole table. Unnoticed with the demo bank's six terminals; with the
-- benchmark's 10,000 ATMs it took 0.4 ms of every withdrawal, more than
-- the journal lines (found by pg_stat_statements, docs/benchmarks.md). An
-- index on the text form serves the comparison as written.
CREATE UNIQUE INDEX terminals_terminal_id_text ON terminals ((terminal_id::text));
ANALYZE terminals;
