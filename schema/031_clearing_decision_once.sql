-- Clearing import: the decision computed once per record, not once per use.
--
-- clearing_import() decides each record in three steps written as CTEs: x
-- (the detail: hold_released, no_authorisation, unknown_card, ...), o (the
-- outcome, from the detail) and y (the amount in the account currency, from
-- the outcome). PostgreSQL inlines a CTE used once and then pulls the
-- subquery up into the one above it, putting the expression itself where its
-- name was used. The outcome's CASE names the detail five times; the
-- amount, the fees, the posting flag and the entry id name the outcome (and
-- the amount) about a dozen times more. So the detail's CASE, thirteen
-- branches with a tolerance test, ran dozens of times per record. In a
-- million-record import under EXPLAIN ANALYZE, the top Result node of the
-- statement that builds clearing_plan took 5.9 s; with this migration 1.1 s.
--
-- OFFSET 0 keeps each step a subquery of its own: its columns are computed
-- once per row and read by the step above. Nothing is written out (as
-- MATERIALIZED would do: a tuplestore of a million wide rows).

SELECT migration_edit_function(
  'clearing_import(card_scheme, text, bytea, date, text, bigint, boolean, boolean, integer, bigint)',
  ARRAY[ARRAY['      LEFT JOIN clearing_rates fr ON fr.from_currency = w.currency AND fr.to_currency = w.acur' ||
              chr(10) || '  ), o AS (',
              '      LEFT JOIN clearing_rates fr ON fr.from_currency = w.currency AND fr.to_currency = w.acur' ||
              chr(10) || '    OFFSET 0' || chr(10) || '  ), o AS ('],
        ARRAY['      FROM x' || chr(10) || '  ), y AS (',
              '      FROM x OFFSET 0' || chr(10) || '  ), y AS ('],
        ARRAY['      FROM o' || chr(10) || '  )' || chr(10) || '  SELECT y.*,',
              '      FROM o OFFSET 0' || chr(10) || '  )' || chr(10) || '  SELECT y.*,']],
  '031');
