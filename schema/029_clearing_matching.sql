-- Clearing import, second pass on speed (issue 8). Profiled per statement
-- at a million records (docs/clearing.md, "Speed"); at that size matching
-- took 19 s (without auto_explain's instrumentation), more than its time
-- at 200,000 records times five.
--
--   1. Matching read every authorisation of the card. auth_log.approval_code
--      is character(6) and the staged code text, so the comparison was made
--      on text, outside the (card_id, approval_code) index: the index gave
--      all of the card's authorisations with an approval code, ever, and
--      each was read from the table and filtered (5 per record in the
--      bench; in production, years of them). The staged code is compared as
--      character: it is at most 6 characters with no trailing spaces (the
--      readers trim them), where the two comparisons agree.
--   2. Lookups by original_auth_id had no index: the completed amount of a
--      pre-authorisation (clearing), a completion's or reversal's original
--      (018, 019, 020) scanned every completion or reversal. An index on the
--      rows that carry one; an authorisation has none and pays nothing.

CREATE INDEX auth_log_original ON auth_log (original_auth_id) WHERE original_auth_id IS NOT NULL;

-- Later migrations change a long function by exact text edits of its
-- definition (027 did so inline): each edit must find its text, or the
-- migration fails rather than redefine a function it does not know.
CREATE FUNCTION migration_edit_function(p_fn regprocedure, p_edits text[][], p_by text)
RETURNS void LANGUAGE plpgsql AS $$
DECLARE
  def text := pg_get_functiondef(p_fn);
BEGIN
  FOR i IN 1 .. array_length(p_edits, 1) LOOP
    IF position(p_edits[i][1] IN def) = 0 THEN
      RAISE EXCEPTION '% is not the one % expects (edit %)', p_fn, p_by, i;
    END IF;
    def := replace(def, p_edits[i][1], p_edits[i][2]);
  END LOOP;
  EXECUTE def;
END $$;

SELECT migration_edit_function(
  'clearing_import(card_scheme, text, bytea, date, text, bigint, boolean, boolean, integer, bigint)',
  ARRAY[ARRAY['AND l.approval_code = st.approval' || chr(10),
              'AND l.approval_code = st.approval::bpchar' || chr(10)]],
  '029');
