#!/usr/bin/env bash
# Concurrency against the real database, from many connections at once:
#  1. 50 concurrent withdrawals on one card whose daily count allows 5:
#     exactly 5 are approved.
#  2. 40 concurrent purchases from 4 cards on one account (more than its
#     balance): the account never goes below its available floor, and the
#     approved total is exactly what fits.
here=$(cd "$(dirname "$0")" && pwd)
. "$here/lib.sh"
db_setup "$1"
card=$(psql_t -qAt -c "select c.id from cards c join products p on p.id=c.product_id
  join accounts a on a.id=c.account_id where p.code='VISA_CLASSIC' and a.currency=840 and c.is_primary")
out=$(mktemp -d); trap 'rm -rf "$out"; psql -X -q -d postgres -c "DROP DATABASE IF EXISTS $DB WITH (FORCE)" >/dev/null 2>&1' EXIT
for i in $(seq 1 50); do
  psql_t -qAt -c "select response_code from authorise('cash','00000000001','ATM00001',
      lpad('$i',6,'0'),'1123101500',(select pan_hash from cards where id=$card),1000,840::smallint)" \
      >"$out/w$i" 2>&1 &
done
wait
ok=$(cat "$out"/w* | grep -c '^00$' || true)
lim=$(cat "$out"/w* | grep -c '^65$' || true)
[ "$ok" = 5 ] && [ "$lim" = 45 ] || { echo "FAIL: approved $ok (want 5), 65s $lim (want 45)"; cat "$out"/w* | sort | uniq -c; exit 1; }
echo "ok: 50 concurrent withdrawals, 5 approved"

# One account, several cards (raise the counts and limits so only money limits).
acct=$(psql_t -qAt -c "select account_id from cards where id=$card")
psql_t -q <<SQL
UPDATE product_versions SET daily_purchase_count = 1000, daily_amount_limit = 100000000;
INSERT INTO cards (pan_hash, pan_enc, pan_masked, account_id, customer_id, product_id, expiry, is_primary)
SELECT sha256(('extra' || g)::bytea), '\x00', '453910******000' || g, c.account_id, c.customer_id, c.product_id,
       c.expiry, false FROM cards c, generate_series(1, 3) g WHERE c.id = $card;
SQL
avail=$(psql_t -qAt -c "select account_available(a) from accounts a where id=$acct")
i=0
for c in $(psql_t -qAt -c "select id from cards where account_id=$acct"); do
  for k in $(seq 1 10); do
    i=$((i+1))
    psql_t -qAt -c "select response_code from authorise('purchase','00000000001','POS00001',
        lpad('$i',6,'0'),'1123101600',(select pan_hash from cards where id=$c),50000,840::smallint)" \
        >"$out/p$i" 2>&1 &
  done
done
wait
ok=$(cat "$out"/p* | grep -c '^00$' || true)
want=$((avail / 50000))
[ "$ok" = "$want" ] || { echo "FAIL: approved $ok purchases of 500.00, want $want (available $avail)"; cat "$out"/p* | sort | uniq -c; exit 1; }
psql_t -qAt -f "$here/helpers.sql" -c "select pg_temp.check_invariants()" >/dev/null
after=$(psql_t -qAt -c "select account_available(a) from accounts a where id=$acct")
[ "$after" -ge 0 ] || { echo "FAIL: available $after < 0"; exit 1; }
echo "ok: $ok of $i concurrent purchases approved, available $avail -> $after"
