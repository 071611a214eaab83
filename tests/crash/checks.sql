-- The crash test's checks (tests/crash/crash_test.sh): what loadgen's
-- terminals saw (its --outcomes file, loaded into seen) against what the
-- database holds, after switchd was killed with SIGKILL again and again
-- under load and every reversal the terminals owed was acknowledged.
--   INVARIANTS_SQL=tests/switch/rules/invariants.sql \
--   psql -v acquirer=DE32 -f tests/db/helpers.sql -f checks.sql <OUTCOMES_FILE
-- Prints one line "check NAME: ok" or "check NAME: FAILED (N)" per check,
-- then the failing rows (at most 20 per check; cards as the bench card
-- number, never a PAN), then a line "violations N".
\set ON_ERROR_STOP on
\set QUIET on
\pset format unaligned
\pset tuples_only on

CREATE TEMP TABLE seen (
  terminal text, stan text, de7 text, rrn text, kind text, amount bigint, rc text, approval text,
  card text, reverses text, orig_stan text, orig_de7 text, acked text, sends int);
\copy seen FROM pstdin WITH (FORMAT csv, HEADER true)

-- The terminals' 0200s with the authorisation log's row for each
-- (the message key: DE 32, 41, 11, 7; at most one row by auth_log_msg_key)
-- and whether a reversal of it was acknowledged 00.
CREATE TEMP TABLE fin AS
SELECT s.terminal, s.stan, s.de7, s.kind, s.amount, s.rc, s.approval, s.card,
       l.id AS auth_id, l.response_code AS db_rc, l.rule, l.amount_txn, l.reversed_amount,
       l.approval_code, l.hold_id, l.entry_id, l.txn_type, l.card_id,
       EXISTS (SELECT 1 FROM seen r WHERE r.kind = 'reversal' AND r.acked = 'yes' AND r.rc = '00'
                  AND r.terminal = s.terminal AND r.orig_stan = s.stan AND r.orig_de7 = s.de7) AS reversed_by_terminal
  FROM seen s
  LEFT JOIN auth_log l ON l.acquirer_id = :'acquirer' AND l.terminal_id = s.terminal AND l.stan = s.stan
                      AND l.transmitted = s.de7 AND l.msg_class = 'auth'
 WHERE s.kind IN ('withdraw', 'purchase');

-- Every approved withdrawal or purchase in the log of the bench ATMs,
-- with what became of its hold or posting.
CREATE TEMP TABLE approved AS
SELECT l.id, l.terminal_id, l.stan, l.transmitted, l.txn_type, l.rule, l.amount_txn, l.reversed_amount,
       l.hold_id, l.entry_id, l.card_id, h.status AS hold_status,
       (SELECT count(*) FROM journal_entries e WHERE e.reverses_entry_id = l.entry_id) AS reversing_entries
  FROM auth_log l LEFT JOIN holds h ON h.id = l.hold_id
 WHERE l.msg_class = 'auth' AND l.response_code = '00' AND l.acquirer_id = :'acquirer'
   AND l.terminal_id LIKE 'BA%' AND l.txn_type IN ('cash', 'purchase');

CREATE TEMP TABLE violation (check_name text, detail text);

-- 1. Every 00 a terminal received for a withdrawal or purchase is one
-- approved row with its posting (cash) or hold (purchase), the same amount
-- and approval code; fully reversed when the terminal reversed it and the
-- reversal was acknowledged, untouched otherwise.
INSERT INTO violation
SELECT 'seen_approved', format('%s stan %s de7 %s %s %s card %s: terminal saw 00/%s; log %s',
         f.terminal, f.stan, f.de7, f.kind, f.amount, f.card, f.approval,
         CASE WHEN f.auth_id IS NULL THEN 'has no row'
              ELSE format('row %s rc %s rule %s amount %s approval %s hold %s (%s) entry %s reversed %s (reversing entries %s); terminal reversal acked: %s',
                          f.auth_id, f.db_rc, f.rule, f.amount_txn, f.approval_code, f.hold_id, a.hold_status,
                          f.entry_id, f.reversed_amount, a.reversing_entries, f.reversed_by_terminal) END)
  FROM fin f LEFT JOIN approved a ON a.id = f.auth_id
 WHERE f.rc = '00'
   AND NOT (a.id IS NOT NULL AND f.amount_txn = f.amount AND f.approval_code = f.approval
            AND CASE f.kind WHEN 'withdraw' THEN f.txn_type = 'cash' AND f.entry_id IS NOT NULL AND f.hold_id IS NULL
                            ELSE f.txn_type = 'purchase' AND f.hold_id IS NOT NULL AND f.entry_id IS NULL END
            AND CASE WHEN f.reversed_by_terminal
                     THEN f.reversed_amount = f.amount_txn
                          AND (a.hold_status = 'reversed' OR a.reversing_entries = 1)
                     ELSE f.reversed_amount = 0
                          AND (a.hold_status = 'active' OR (f.entry_id IS NOT NULL AND a.reversing_entries = 0)) END);

-- 2. Nothing stands approved that no terminal saw approved: an approval
-- whose terminal saw a time-out, a lost connection or anything but 00
-- (or that no terminal sent at all) is fully reversed, its hold released
-- or its posting undone once.
INSERT INTO violation
SELECT 'unseen_reversed', format('log row %s %s stan %s de7 %s %s %s rule %s: reversed %s, hold %s (%s), entry %s (reversing entries %s); terminal saw %s',
         a.id, a.terminal_id, a.stan, a.transmitted, a.txn_type, a.amount_txn, a.rule, a.reversed_amount,
         a.hold_id, a.hold_status, a.entry_id, a.reversing_entries,
         coalesce((SELECT string_agg(f.rc, '/') FROM fin f WHERE f.auth_id = a.id), 'nothing'))
  FROM approved a
 WHERE NOT EXISTS (SELECT 1 FROM fin f WHERE f.auth_id = a.id AND f.rc = '00')
   AND NOT (a.reversed_amount = a.amount_txn
            AND (a.hold_status = 'reversed' OR (a.entry_id IS NOT NULL AND a.reversing_entries = 1)));

-- 3. Every reversal a terminal saw acknowledged 00 is in the log.
INSERT INTO violation
SELECT 'reversal_logged', format('%s stan %s de7 %s reversing stan %s de7 %s (%s %s card %s): acknowledged 00 but not logged',
         s.terminal, s.stan, s.de7, s.orig_stan, s.orig_de7, s.reverses, s.amount, s.card)
  FROM seen s
 WHERE s.kind = 'reversal' AND s.acked = 'yes' AND s.rc = '00'
   AND NOT EXISTS (SELECT 1 FROM auth_log l WHERE l.acquirer_id = :'acquirer' AND l.terminal_id = s.terminal
                      AND l.stan = s.stan AND l.transmitted = s.de7 AND l.msg_class = 'reversal'
                      AND l.response_code = '00');

-- 4. The terminals finished: no request or reversal left pending when
-- loadgen stopped, no reversal given up after its repeats, none answered
-- other than 00 (else nothing above could tell what the terminal meant).
INSERT INTO violation
SELECT 'terminals_finished', format('%s stan %s de7 %s %s%s %s card %s: %s%s',
         terminal, stan, de7, kind, coalesce(' of ' || nullif(reverses, ''), ''), amount, card, rc,
         CASE WHEN kind = 'reversal' THEN format(' acked %s after %s sends', acked, sends) ELSE '' END)
  FROM seen
 WHERE rc = 'pending' OR (kind = 'reversal' AND (acked <> 'yes' OR rc <> '00'));

-- 5. The ledger's invariants (tests/db/helpers.sql, tests/switch/rules/invariants.sql):
-- entries balance, ledger = lines, held = active holds, available =
-- ledger - holds - minimum + overdraft, daily usage = the approved
-- authorisations not fully reversed.
DO $$
BEGIN
  PERFORM pg_temp.check_invariants();
EXCEPTION WHEN OTHERS THEN
  INSERT INTO violation VALUES ('ledger_invariants', SQLERRM);
END $$;
-- invariants.sql is one query ending in ';' (INVARIANTS_SQL: its path)
\set invariants `sed 's/;[[:space:]]*$//' "$INVARIANTS_SQL"`
INSERT INTO violation SELECT 'ledger_invariants', x FROM (:invariants) v(x);

-- 6. Daily counters from the terminals' side: per card and channel, the
-- count and amount of what terminals saw approved and did not reverse
-- (reverse() gives a full reversal's amount and count back, 006/018).
INSERT INTO violation
SELECT 'daily_usage', format('card %s %s: daily_usage count %s amount %s, terminals saw %s for %s',
         coalesce(t.card, u.card), coalesce(t.channel, u.channel), coalesce(u.n, 0), coalesce(u.amount, 0),
         coalesce(t.n, 0), coalesce(t.amount, 0))
  FROM (SELECT card, CASE kind WHEN 'withdraw' THEN 'cash' ELSE 'purchase' END AS channel,
               count(*) AS n, sum(amount) AS amount
          FROM fin WHERE rc = '00' AND NOT reversed_by_terminal GROUP BY 1, 2) t
  FULL JOIN (SELECT c.customer_id::text AS card, d.channel, sum(d.count) AS n, sum(d.amount) AS amount
               FROM daily_usage d JOIN cards c ON c.id = d.card_id
              WHERE d.count > 0 OR d.amount > 0 GROUP BY 1, 2) u
    ON u.card = t.card AND u.channel = t.channel
 WHERE coalesce(u.n, 0) <> coalesce(t.n, 0) OR coalesce(u.amount, 0) <> coalesce(t.amount, 0);

-- 7. Each bench card's account moved by what its terminals saw: ledger =
-- the opening 1,000,000.00 less the standing withdrawals with their fees;
-- held = the standing purchases' holds.
INSERT INTO violation
SELECT 'card_accounts', format('card %s account %s: ledger %s held %s, terminals saw withdrawals for %s (fees %s) and holds of %s',
         c.customer_id, a.number, a.ledger_balance, a.held_amount, coalesce(w.amount, 0), coalesce(w.fees, 0),
         coalesce(p.held, 0))
  FROM cards c JOIN accounts a ON a.id = c.account_id
  LEFT JOIN (SELECT f.card_id, sum(l.amount_acct) AS amount, sum(l.fee + l.fee_conversion) AS fees
               FROM fin f JOIN auth_log l ON l.id = f.auth_id
              WHERE f.rc = '00' AND NOT f.reversed_by_terminal AND f.kind = 'withdraw' GROUP BY 1) w ON w.card_id = c.id
  LEFT JOIN (SELECT f.card_id, sum(h.amount) AS held
               FROM fin f JOIN holds h ON h.id = f.hold_id
              WHERE f.rc = '00' AND NOT f.reversed_by_terminal AND f.kind = 'purchase' GROUP BY 1) p ON p.card_id = c.id
 WHERE a.number LIKE 'B%' AND c.customer_id IN (SELECT card::bigint FROM seen WHERE card ~ '^[0-9]+$')
   AND (a.ledger_balance <> 100000000 - coalesce(w.amount, 0) - coalesce(w.fees, 0)
        OR a.held_amount <> coalesce(p.held, 0));

-- The summary and the failing rows.
SELECT format('approvals no terminal saw (to be reversed): %s, of which after a lost connection or time-out: %s',
              count(*), count(*) FILTER (WHERE EXISTS (SELECT 1 FROM fin f WHERE f.auth_id = a.id
                                                          AND f.rc IN ('lost', 'timeout'))))
  FROM approved a WHERE NOT EXISTS (SELECT 1 FROM fin f WHERE f.auth_id = a.id AND f.rc = '00');
SELECT format('check %s: %s', c, CASE WHEN n = 0 THEN 'ok' ELSE format('FAILED (%s)', n) END)
  FROM (SELECT c, (SELECT count(*) FROM violation v WHERE v.check_name = c) AS n
          FROM unnest(ARRAY['seen_approved', 'unseen_reversed', 'reversal_logged', 'terminals_finished',
                            'ledger_invariants', 'daily_usage', 'card_accounts']) WITH ORDINALITY AS x(c, o)
         ORDER BY o) s;
SELECT format('  %s: %s', check_name, detail)
  FROM (SELECT *, row_number() OVER (PARTITION BY check_name) AS k FROM violation) v
 WHERE k <= 20;
SELECT 'violations ' || count(*) FROM violation;
