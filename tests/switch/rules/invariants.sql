-- Ledger invariants, checked after every section of the rules suite and
-- after the concurrency test: one line per violation, nothing when all hold.
WITH lines AS (
  SELECT account_id, sum(amount) AS total FROM journal_lines GROUP BY account_id
), active_holds AS (
  SELECT account_id, sum(amount) AS total FROM holds WHERE status = 'active' GROUP BY account_id
), logged AS (
  -- approved authorisations still standing, per card, day, channel, currency
  SELECT card_id, business_day, channel, currency_txn AS currency,
         count(*) FILTER (WHERE reversed_amount < amount_txn) AS n,
         sum(amount_txn - reversed_amount) AS amount
    FROM auth_log
   WHERE msg_class = 'auth' AND response_code = '00' AND channel IS NOT NULL
   GROUP BY 1, 2, 3, 4
)
-- every journal entry sums to zero in each currency
SELECT 'entry ' || entry_id || ' sums to ' || sum(amount) || ' in currency ' || currency
  FROM journal_lines GROUP BY entry_id, currency HAVING sum(amount) <> 0
UNION ALL
-- an account's ledger balance is the sum of its journal lines
SELECT 'account ' || a.number || ': ledger_balance ' || a.ledger_balance || ', lines sum to ' || coalesce(l.total, 0)
  FROM accounts a LEFT JOIN lines l ON l.account_id = a.id
 WHERE a.ledger_balance <> coalesce(l.total, 0)
UNION ALL
-- available = ledger - active holds - minimum + overdraft
SELECT 'account ' || a.number || ': available ' || account_available(a) || ', recomputed '
       || (coalesce(l.total, 0) - coalesce(h.total, 0) - a.minimum_balance + a.overdraft_limit)
  FROM accounts a LEFT JOIN lines l ON l.account_id = a.id LEFT JOIN active_holds h ON h.account_id = a.id
 WHERE account_available(a) <> coalesce(l.total, 0) - coalesce(h.total, 0) - a.minimum_balance + a.overdraft_limit
UNION ALL
-- daily usage = the approved authorisations not fully reversed
SELECT 'daily_usage card ' || coalesce(u.card_id, g.card_id) || ' ' || coalesce(u.business_day, g.business_day)
       || ' ' || coalesce(u.channel, g.channel) || ' ' || coalesce(u.currency, g.currency) || ': count '
       || coalesce(u.count, 0) || ' amount ' || coalesce(u.amount, 0) || ', auth_log has '
       || coalesce(g.n, 0) || ' for ' || coalesce(g.amount, 0)
  FROM daily_usage u FULL JOIN logged g
    ON g.card_id = u.card_id AND g.business_day = u.business_day AND g.channel = u.channel
   AND g.currency = u.currency
 WHERE coalesce(u.count, 0) <> coalesce(g.n, 0) OR coalesce(u.amount, 0) <> coalesce(g.amount, 0)
UNION ALL
-- a failed transaction is free
SELECT 'auth_log ' || id || ': declined ' || response_code || ' but fee ' || (fee + fee_conversion)
  FROM auth_log WHERE msg_class = 'auth' AND response_code <> '00' AND fee + fee_conversion <> 0;
