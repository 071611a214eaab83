-- Operators' reports (issue 11, `switchctl report`): the day's
-- authorisations, fee income and FX income as booked in the ledger,
-- outstanding holds by age, a customer account's statement, and a dry run
-- of the retention purge. Read-only: switchctl runs them in one snapshot
-- and writes the audit_log row of the run in the same transaction.
--
-- Amounts come out as numeric in major units with the currency's exponent
-- as scale (report_money), so a KHR amount shows its minor unit as stored.
-- A day is a business day in bank_settings.business_tz (Asia/Phnom_Penh):
-- the postings of a day are the journal entries of that business_day, the
-- authorisations those of auth_log.business_day.

-- The reports select one business day from tables that grow by the day in
-- roughly that order: a BRIN index is a few pages and costs the hot path
-- (authorise, clearing import) next to nothing.
CREATE INDEX auth_log_business_day_brin ON auth_log USING brin (business_day);
CREATE INDEX journal_entries_business_day_brin ON journal_entries USING brin (business_day);
-- The clearing record that posted an entry (one per entry): a statement
-- looks up a few, the fee report a day's. One more index entry per posted
-- record at import.
CREATE INDEX clearing_records_entry ON clearing_records (entry_id) WHERE entry_id IS NOT NULL;

-- Minor units to major units, with the currency's exponent as scale.
CREATE FUNCTION report_money(p_amount numeric, p_currency smallint) RETURNS numeric
  LANGUAGE sql STABLE AS
$$ SELECT round(p_amount / 10::numeric ^ c.exponent, c.exponent) FROM currencies c WHERE c.code = p_currency $$;

CREATE FUNCTION report_alpha(p_currency smallint) RETURNS text
  LANGUAGE sql STABLE AS
$$ SELECT coalesce((SELECT alpha::text FROM currencies WHERE code = p_currency), p_currency::text, '-') $$;

-- The instant the business day p_day ends.
CREATE FUNCTION report_day_end(p_day date) RETURNS timestamptz
  LANGUAGE sql STABLE AS
$$ SELECT (p_day + 1)::timestamp AT TIME ZONE (SELECT business_tz FROM bank_settings) $$;

-- An amount in minor units of one currency in minor units of another at the
-- bank's reference rate (bank_settings.khr_per_usd_reference, the rate the
-- KHR limits follow), unrounded; NULL for a pair without a reference rate.
CREATE FUNCTION report_at_reference(p_amount numeric, p_from smallint, p_to smallint) RETURNS numeric
  LANGUAGE sql STABLE AS $$
  SELECT CASE WHEN p_from = p_to THEN p_amount
              WHEN p_from = 840 AND p_to = 116 THEN p_amount * s.khr_per_usd_reference * 10::numeric ^ (t.exponent - f.exponent)
              WHEN p_from = 116 AND p_to = 840 THEN p_amount / s.khr_per_usd_reference * 10::numeric ^ (t.exponent - f.exponent)
         END
    FROM bank_settings s, currencies f, currencies t WHERE f.code = p_from AND t.code = p_to
$$;

-- What a journal entry was about, for the fee, FX and statement reports:
-- the authorisation it goes back to (a reversal's entry to the original it
-- reversed), else the clearing record that posted it; the card (masked),
-- the product that priced it, the kind of transaction and where it happened.
CREATE VIEW report_entry_context AS
SELECT e.id AS entry_id, e.business_day, e.kind AS entry_kind, e.description,
       o.id AS auth_id,
       coalesce(o.txn_type, CASE WHEN cr.proc LIKE '01%' THEN 'cash'
                                 WHEN cr.kind LIKE 'credit%' THEN 'refund'
                                 WHEN cr.kind IS NOT NULL THEN 'purchase' END) AS txn_type,
       o.currency_txn, o.rate,
       coalesce(c.pan_masked, cr.pan_masked) AS pan_masked,
       coalesce(pv.product_id, c.product_id, ac.product_id) AS product_id,
       coalesce(CASE WHEN o.own_terminal THEN t.location END,
                m.name || ', ' || m.city,
                nullif(concat_ws(', ', nullif(cr.merchant_name, ''), nullif(cr.merchant_city, '')), ''),
                'terminal ' || o.terminal_id || CASE WHEN o.own_terminal THEN '' ELSE ' (other bank)' END
               ) AS place
  FROM journal_entries e
  LEFT JOIN auth_log x ON x.id = e.auth_id
  LEFT JOIN auth_log o ON o.id = coalesce(x.original_auth_id, x.id)
  LEFT JOIN LATERAL (SELECT r.proc, r.kind, r.card_id, r.pan_masked, r.merchant_name, r.merchant_city
                       FROM clearing_records r WHERE e.kind LIKE 'clearing%' AND r.entry_id = e.id
                      ORDER BY r.id LIMIT 1) cr ON true
  LEFT JOIN cards c ON c.id = coalesce(o.card_id, cr.card_id)
  LEFT JOIN product_versions pv ON pv.id = o.fee_version_id
  LEFT JOIN terminals t ON t.terminal_id = o.terminal_id
  LEFT JOIN merchants m ON m.merchant_id = o.merchant_id
  -- Nothing else says: the product of a card on the entry's customer account.
  LEFT JOIN LATERAL (SELECT k.product_id FROM journal_lines l JOIN cards k ON k.account_id = l.account_id
                      WHERE l.entry_id = e.id AND o.id IS NULL AND cr.card_id IS NULL
                      ORDER BY k.is_primary DESC, k.id LIMIT 1) ac ON true;

-- The fee a line of fee income is (PRODUCTS.md's fee table). The fee
-- authorise() charges at another bank's ATM is the one for cash there
-- (its own ATMs charge none), the one on a balance inquiry the foreign
-- inquiry fee; fees booked without a transaction (annual fee, new PIN,
-- card retained) are named by their line or entry kind.
CREATE FUNCTION report_fee_type(p_line_kind text, p_entry_kind text, p_txn_type text) RETURNS text
  LANGUAGE sql IMMUTABLE AS $$
  SELECT CASE WHEN p_line_kind = 'conversion_fee' THEN 'conversion'
              WHEN p_txn_type = 'cash' THEN 'other_bank_cash'
              WHEN p_txn_type = 'balance' THEN 'balance_inquiry'
              WHEN p_line_kind NOT IN ('fee', 'principal') THEN p_line_kind
              ELSE p_entry_kind END
$$;

CREATE FUNCTION report_fee_label(p_fee_type text) RETURNS text
  LANGUAGE sql IMMUTABLE AS $$
  SELECT CASE p_fee_type WHEN 'conversion' THEN 'currency conversion'
                         WHEN 'other_bank_cash' THEN 'cash at another bank''s ATM'
                         WHEN 'balance_inquiry' THEN 'balance inquiry at another bank''s ATM'
                         ELSE replace(p_fee_type, '_', ' ') END
$$;

-- A statement line's words for a posting (not a fee) of an entry.
CREATE FUNCTION report_txn_label(p_entry_kind text, p_txn_type text) RETURNS text
  LANGUAGE sql IMMUTABLE AS $$
  WITH b AS (SELECT CASE p_txn_type WHEN 'cash' THEN 'Cash withdrawal' WHEN 'purchase' THEN 'Purchase'
                                    WHEN 'preauth' THEN 'Purchase' WHEN 'cashback' THEN 'Purchase with cash back'
                                    WHEN 'refund' THEN 'Refund' WHEN 'balance' THEN 'Balance inquiry'
                                    WHEN 'voucher_redeem' THEN 'Cardless cash' END AS base)
  SELECT CASE
           WHEN p_entry_kind IN ('reversal', 'clearing_presentment_reversal', 'clearing_credit_reversal')
             THEN 'Reversal' || coalesce(': ' || lower(b.base), '')
           WHEN p_entry_kind = 'reversal_after_clearing' THEN 'Refund after clearing' || coalesce(': ' || lower(b.base), '')
           WHEN p_entry_kind IN ('clearing_exception', 'clearing_write_off')
             THEN 'Clearing adjustment' || coalesce(': ' || lower(b.base), '')
           WHEN p_entry_kind = 'deposit' THEN 'Deposit'
           WHEN p_entry_kind = 'voucher_create' THEN 'Cardless cash sent'
           WHEN p_entry_kind = 'voucher_expire' THEN 'Cardless cash returned (not collected)'
           WHEN p_entry_kind = 'voucher_reversal' THEN 'Cardless cash not dispensed, returned'
           WHEN b.base IS NOT NULL THEN b.base
           ELSE upper(left(p_entry_kind, 1)) || replace(substr(p_entry_kind, 2), '_', ' ')
         END
    FROM b
$$;

-- report auths: the day's authorisation decisions (auth_log classes auth,
-- voucher and local: every 0100/0200/0120 the switch or the database
-- answered; reversals and completions are not authorisations) by channel,
-- currency and response code; per channel and currency a total row
-- (response 'all') with the approval rate (response 00) in percent.
-- Channel: ATM and POS are the bank's own terminals (by the terminal's
-- kind; an own terminal the switch does not know is an ATM for cash,
-- balance, PIN change and cardless cash, else a POS); network is every
-- other acquirer's. Amounts are DE 4, in the transaction's currency.
CREATE FUNCTION report_auths(p_day date)
RETURNS TABLE (channel text, currency text, response text, meaning text, count bigint, amount numeric,
               approval_rate numeric)
LANGUAGE sql STABLE AS $$
  WITH l AS (
    SELECT CASE WHEN NOT coalesce(l.own_terminal, false) THEN 'network'
                WHEN coalesce(t.kind::text,
                              CASE WHEN l.txn_type IN ('cash', 'balance', 'pin_change', 'voucher_redeem')
                                     OR l.mcc = '6011' THEN 'atm' END) = 'atm' THEN 'ATM'
                ELSE 'POS' END AS channel,
           coalesce(l.currency_txn, l.currency_acct) AS cur, l.response_code::text AS rc, l.amount_txn
      FROM auth_log l LEFT JOIN terminals t ON t.terminal_id = l.terminal_id
     WHERE l.business_day = p_day AND l.msg_class IN ('auth', 'voucher', 'local')
  ), g AS (
    SELECT channel, cur, rc, grouping(rc) = 1 AS total, count(*) AS n, sum(amount_txn) AS amount,
           count(*) FILTER (WHERE rc = '00') AS approved
      FROM l GROUP BY GROUPING SETS ((channel, cur, rc), (channel, cur))
  )
  SELECT g.channel, report_alpha(g.cur), CASE WHEN g.total THEN 'all' ELSE g.rc END,
         CASE WHEN g.total THEN '' ELSE coalesce(m.meaning, '') END, g.n, report_money(g.amount, g.cur),
         CASE WHEN g.total THEN round(100.0 * g.approved / g.n, 2) END
    FROM g LEFT JOIN (VALUES
      ('00', 'approved'), ('03', 'invalid merchant or terminal'), ('05', 'do not honour'),
      ('12', 'invalid transaction'), ('13', 'invalid amount'), ('14', 'invalid card number'),
      ('25', 'original not found'), ('30', 'format error'), ('41', 'lost card'), ('43', 'stolen card'),
      ('51', 'insufficient funds'), ('54', 'expired card'), ('55', 'incorrect PIN'),
      ('57', 'not permitted to cardholder'), ('58', 'not permitted to terminal'),
      ('61', 'exceeds amount limit'), ('62', 'restricted card'), ('63', 'security violation'),
      ('65', 'exceeds frequency limit'), ('75', 'PIN tries exceeded'), ('91', 'issuer or switch unavailable'),
      ('94', 'duplicate transmission'), ('96', 'system malfunction')) AS m(code, meaning) ON m.code = g.rc
   ORDER BY array_position(ARRAY['ATM', 'POS', 'network'], g.channel), 2, g.total, g.rc
$$;

-- report fees: fee income booked on the day, from the ledger: every line
-- on a fee income account, and the conversion fee lines on the FX income
-- accounts, by product, fee type and currency. A fee given back (a
-- reversal, a scheme's reversal of a presentment) is a debit line on the
-- same account: counted as refunded on the day it was booked, under the
-- fee type of the transaction it reversed. net = charged - refunded =
-- the day's movement of those accounts from fees.
CREATE FUNCTION report_fees(p_day date)
RETURNS TABLE (product text, fee_type text, currency text, charged bigint, charged_amount numeric,
               refunded bigint, refunded_amount numeric, net_amount numeric)
LANGUAGE sql STABLE AS $$
  WITH f AS (
    SELECT coalesce(p.code, '-') AS product, report_fee_type(l.line_kind, x.entry_kind, x.txn_type) AS fee_type,
           l.currency, l.amount
      FROM journal_entries e
      JOIN journal_lines l ON l.entry_id = e.id
      JOIN accounts g ON g.id = l.account_id AND g.kind = 'internal'
      JOIN report_entry_context x ON x.entry_id = e.id
      LEFT JOIN products p ON p.id = x.product_id
     WHERE e.business_day = p_day
       AND (g.purpose = 'fee_income' OR (g.purpose = 'fx_income' AND l.line_kind = 'conversion_fee'))
  )
  SELECT product, fee_type, report_alpha(currency),
         count(*) FILTER (WHERE amount > 0), report_money(coalesce(sum(amount) FILTER (WHERE amount > 0), 0), currency),
         count(*) FILTER (WHERE amount < 0), report_money(coalesce(-sum(amount) FILTER (WHERE amount < 0), 0), currency),
         report_money(sum(amount), currency)
    FROM f GROUP BY product, fee_type, currency
   ORDER BY product, fee_type, 3
$$;

-- report fx: FX income of the day per currency pair (transaction currency
-- -> account currency), from the entries that touched the FX position or
-- booked a conversion fee. Per entry the account currency is that of its
-- customer account; the FX position lines in it are what the bank took in
-- (taken_in, + when the customer paid), those in the other currency what
-- it paid out (paid_out). The position's result is taken_in less paid_out
-- valued at the bank's reference rate (khr_per_usd_reference), in the
-- account currency: what the bank's rate gained over the reference on the
-- day's conversions. fx_income = conversion fees + that result.
CREATE FUNCTION report_fx(p_day date)
RETURNS TABLE (txn_currency text, account_currency text, conversions bigint, paid_out numeric,
               taken_in numeric, conversion_fees numeric, position_result numeric, fx_income numeric)
LANGUAGE sql STABLE AS $$
  WITH l AS (
    SELECT l.entry_id, l.currency, l.amount, g.purpose = 'fx_position' AS position
      FROM journal_entries e JOIN journal_lines l ON l.entry_id = e.id
      JOIN accounts g ON g.id = l.account_id AND g.kind = 'internal'
     WHERE e.business_day = p_day
       AND (g.purpose = 'fx_position' OR (g.purpose = 'fx_income' AND l.line_kind = 'conversion_fee'))
  ), e AS (
    SELECT l.entry_id,
           coalesce((SELECT min(c.currency) FROM journal_lines c JOIN accounts a ON a.id = c.account_id
                      WHERE c.entry_id = l.entry_id AND a.kind <> 'internal'),
                    min(l.currency) FILTER (WHERE NOT l.position), min(l.currency)) AS acur
      FROM l GROUP BY l.entry_id
  ), p AS (
    SELECT e.entry_id, e.acur,
           coalesce(min(l.currency) FILTER (WHERE l.position AND l.currency <> e.acur),
                    (SELECT x.currency_txn FROM report_entry_context x WHERE x.entry_id = e.entry_id),
                    e.acur) AS tcur,
           bool_or(l.position) AS converted,
           coalesce(sum(l.amount) FILTER (WHERE l.position AND l.currency = e.acur), 0) AS taken,
           coalesce(sum(l.amount) FILTER (WHERE l.position AND l.currency <> e.acur), 0) AS paid,
           coalesce(sum(l.amount) FILTER (WHERE NOT l.position), 0) AS fees
      FROM e JOIN l ON l.entry_id = e.entry_id GROUP BY e.entry_id, e.acur
  ), s AS (
    SELECT tcur, acur, count(*) FILTER (WHERE converted) AS n, sum(paid) AS paid, sum(taken) AS taken,
           sum(fees) AS fees, sum(taken) + round(report_at_reference(sum(paid), tcur, acur)) AS result
      FROM p GROUP BY tcur, acur
  )
  SELECT report_alpha(tcur), report_alpha(acur), n, report_money(-paid, tcur), report_money(taken, acur),
         report_money(fees, acur), report_money(result, acur), report_money(fees + result, acur)
    FROM s ORDER BY 1, 2
$$;

-- report holds: holds outstanding at the end of the business day (made by
-- then, and still active or closed only later), by currency and age in
-- days since the business day they were made: 0-1, 2-7, 8-14, 15-32, over
-- 32 (past the hold period, waiting for `holds expire`). Every bucket of
-- every currency is shown, then a total per currency. The amount is what
-- the hold holds now, or held when it closed: a partial reversal after the
-- day is not undone.
CREATE FUNCTION report_holds(p_day date)
RETURNS TABLE (currency text, age_days text, count bigint, amount numeric)
LANGUAGE sql STABLE AS $$
  WITH b(k, label, lo, hi) AS (VALUES (1, '0-1', 0, 1), (2, '2-7', 2, 7), (3, '8-14', 8, 14),
                                      (4, '15-32', 15, 32), (5, 'over 32', 33, NULL)),
  h AS (
    SELECT h.currency, h.amount, p_day - (h.created_at AT TIME ZONE s.business_tz)::date AS age
      FROM holds h, bank_settings s
     WHERE h.created_at < report_day_end(p_day)
       AND (h.status = 'active' OR h.closed_at >= report_day_end(p_day))
  ), g AS (
    SELECT c.code, b.k, b.label, count(h.amount) AS n, coalesce(sum(h.amount), 0) AS amount
      FROM currencies c CROSS JOIN b
      LEFT JOIN h ON h.currency = c.code AND h.age >= b.lo AND (b.hi IS NULL OR h.age <= b.hi)
     GROUP BY GROUPING SETS ((c.code, b.k, b.label), (c.code))
  )
  SELECT report_alpha(code), coalesce(label, 'total'), n, report_money(amount, code)
    FROM g ORDER BY 1, coalesce(k, 99)
$$;

-- report statement: a customer account's lines between two business days
-- (inclusive), one line per entry and kind of posting (the transaction,
-- its fee, its conversion fee), in the order posted, with the running
-- balance; first the opening balance (every line before p_from), last the
-- closing one. debit/credit/balance in the account's currency.
CREATE FUNCTION report_statement(p_account bigint, p_from date, p_to date)
RETURNS TABLE (line integer, date date, description text, debit numeric, credit numeric, balance numeric)
LANGUAGE sql STABLE AS $$
  WITH a AS (SELECT id, currency FROM accounts WHERE id = p_account),
  opening AS (
    SELECT coalesce(sum(l.amount), 0) AS amount
      FROM journal_lines l JOIN journal_entries e ON e.id = l.entry_id
     WHERE l.account_id = p_account AND e.business_day < p_from
  ), m AS (
    SELECT e.business_day, l.entry_id, l.line_kind, sum(l.amount) AS amount, min(l.id) AS first_line
      FROM journal_lines l JOIN journal_entries e ON e.id = l.entry_id
     WHERE l.account_id = p_account AND e.business_day BETWEEN p_from AND p_to
     GROUP BY e.business_day, l.entry_id, l.line_kind HAVING sum(l.amount) <> 0
  ), d AS (
    SELECT m.*, row_number() OVER w AS n, (SELECT amount FROM opening) + sum(m.amount) OVER w AS running,
           CASE WHEN m.line_kind IN ('fee', 'conversion_fee')
                  THEN CASE WHEN m.amount > 0 THEN 'Fee refund: ' ELSE 'Fee: ' END
                       || report_fee_label(report_fee_type(m.line_kind, x.entry_kind, x.txn_type))
                ELSE report_txn_label(x.entry_kind, x.txn_type) END
           || coalesce(' ' || x.pan_masked, '') || coalesce(', ' || x.place, '')
           -- An entry of no card transaction (a deposit, a voucher) says what it is.
           || CASE WHEN x.auth_id IS NULL AND x.pan_masked IS NULL THEN coalesce(': ' || x.description, '')
                   ELSE '' END
           || CASE WHEN m.line_kind IN ('fee', 'conversion_fee') THEN ''
                   ELSE coalesce(' (' || fa.alpha || ' ' || report_money(fa.amount, fa.currency)
                                 || coalesce(' at ' || trim_scale(x.rate), '') || ')', '') END AS description
      FROM m JOIN report_entry_context x ON x.entry_id = m.entry_id
      -- The transaction's own amount when it was converted (the entry goes
      -- through the FX position): the counterpart's principal line (ATM
      -- cash, scheme) in the other currency.
      LEFT JOIN LATERAL (
        SELECT c.alpha::text AS alpha, l.currency, abs(sum(l.amount)) AS amount
          FROM journal_lines l JOIN accounts g ON g.id = l.account_id JOIN currencies c ON c.code = l.currency
         WHERE l.entry_id = m.entry_id AND l.line_kind = 'principal' AND g.kind = 'internal'
           AND l.currency <> (SELECT currency FROM a)
           AND EXISTS (SELECT 1 FROM journal_lines f JOIN accounts fg ON fg.id = f.account_id
                        WHERE f.entry_id = m.entry_id AND fg.purpose = 'fx_position')
         GROUP BY c.alpha, l.currency LIMIT 1) fa ON m.line_kind = 'principal'
    WINDOW w AS (ORDER BY m.business_day, m.entry_id, m.first_line)
  )
  SELECT 0, p_from, 'Opening balance', NULL::numeric, NULL::numeric, report_money(o.amount, a.currency)
    FROM opening o, a
  UNION ALL
  SELECT d.n::integer, d.business_day, d.description,
         CASE WHEN d.amount < 0 THEN report_money(-d.amount, a.currency) END,
         CASE WHEN d.amount > 0 THEN report_money(d.amount, a.currency) END,
         report_money(d.running, a.currency)
    FROM d, a
  UNION ALL
  SELECT (SELECT count(*) FROM d)::integer + 1, p_to, 'Closing balance',
         report_money((SELECT coalesce(-sum(amount), 0) FROM d WHERE amount < 0), a.currency),
         report_money((SELECT coalesce(sum(amount), 0) FROM d WHERE amount > 0), a.currency),
         report_money(o.amount + (SELECT coalesce(sum(amount), 0) FROM d), a.currency)
    FROM opening o, a
   ORDER BY 1
$$;

-- report retention: a dry run of the retention purge (PRODUCTS.md
-- "Records"; retention_classes in 001). Every table of this schema with a
-- retention_class column is counted per class: its rows, and those past
-- their class's period as of the business day p_day (the row's business
-- day, from its first time column, plus the period is before p_day), with
-- the oldest such day. Classes no table carries come with table '-'.
-- Nothing is deleted (journal lines and the audit log cannot be anyway).
CREATE FUNCTION report_retention(p_day date)
RETURNS TABLE (class text, description text, keep text, table_name text, rows bigint, due bigint,
               oldest_due date)
LANGUAGE plpgsql STABLE AS $$
DECLARE
  t record;
  v_counts text := 'SELECT NULL::text AS class, NULL::text AS table_name, 0::bigint AS rows, 0::bigint AS due,'
                   ' NULL::date AS oldest_due WHERE false';
BEGIN
  FOR t IN
    SELECT c.table_name::text AS tab,
           (SELECT x.column_name::text FROM information_schema.columns x
             WHERE x.table_schema = c.table_schema AND x.table_name = c.table_name
               AND x.column_name IN ('created_at', 'opened_at', 'at', 'posted_at', 'imported_at')
             ORDER BY array_position(ARRAY['created_at', 'opened_at', 'at', 'posted_at', 'imported_at'],
                                     x.column_name::text) LIMIT 1) AS time_col
      FROM information_schema.columns c
      JOIN information_schema.tables tb ON tb.table_schema = c.table_schema AND tb.table_name = c.table_name
     WHERE c.column_name = 'retention_class' AND c.table_schema = current_schema()
       AND tb.table_type = 'BASE TABLE'
     ORDER BY 1
  LOOP
    -- A table without a time column cannot be aged: its rows are counted, none is due.
    v_counts := v_counts || ' UNION ALL ' || CASE WHEN t.time_col IS NULL THEN
      format('SELECT retention_class::text, %L, count(*), 0, NULL FROM %I GROUP BY 1', t.tab, t.tab)
    ELSE
      format('SELECT r.retention_class::text, %L, count(*),'
             ' count(*) FILTER (WHERE (r.%2$I AT TIME ZONE $2)::date + k.keep < $1),'
             ' min((r.%2$I AT TIME ZONE $2)::date) FILTER (WHERE (r.%2$I AT TIME ZONE $2)::date + k.keep < $1)'
             ' FROM %3$I r JOIN retention_classes k ON k.code = r.retention_class GROUP BY 1',
             t.tab, t.time_col, t.tab)
    END;
  END LOOP;
  RETURN QUERY EXECUTE
    'SELECT k.code, k.description, k.keep::text, coalesce(n.table_name, ''-''), coalesce(n.rows, 0),'
    ' coalesce(n.due, 0), n.oldest_due FROM retention_classes k LEFT JOIN (' || v_counts || ') n'
    ' ON n.class = k.code ORDER BY k.code, n.table_name'
    USING p_day, (SELECT business_tz FROM bank_settings);
END $$;
