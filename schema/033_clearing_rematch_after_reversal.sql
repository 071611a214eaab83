-- Clearing: a presentment sent again after the scheme reversed its earlier
-- posting matches its authorisation again.
--
-- An authorisation is taken by at most one presentment: matching skipped
-- every authorisation that a matched or late record already names, even
-- when a presentment reversal (part E) had since undone that record's
-- entry. The acquirer's corrected or re-sent presentment, same ARN (not a
-- duplicate: arn_seen leaves out reversed records), then found no
-- authorisation and was force-posted: without the authorisation's fees and
-- rate, with the foreign-cash fee of a force-posted withdrawal instead, and
-- counted as "force" in the report. Now a record whose entry was reversed
-- no longer holds its authorisation; the hold was completed by the first
-- match, so the new record is a late presentment (outcome late) priced as
-- the authorisation was.

SELECT migration_edit_function(
  'clearing_import(card_scheme, text, bytea, date, text, bigint, boolean, boolean, integer, bigint)',
  ARRAY[ARRAY['WHERE r.matched_auth_id = l.id AND r.outcome IN (''matched'', ''late''))',
              'WHERE r.matched_auth_id = l.id AND r.outcome IN (''matched'', ''late'')' || chr(10) ||
              '                           AND NOT EXISTS (SELECT 1 FROM clearing_records x' || chr(10) ||
              '                                            WHERE x.reverses_record_id = r.id AND x.outcome = ''reversed''))']],
  '033');
