#!/usr/bin/env bash
# Crash consistency at the deadline (issue 9): a withdrawal whose posting
# waits in the database past switchd's deadline is answered 91; the
# approval that commits afterwards is the switch's to reverse (the terminal
# was told 91 and owes nothing). switchd is killed with SIGKILL after the
# 91 and before the commit, then started again: the approval must not
# stand.
#
# Before migration 025 it did: the reversal the switch owed was kept in
# memory only, and the card's account was debited 20.00 for cash that never
# came out. Now switchd passes its deadline to authorise(), which refuses
# to commit an approval after it: no row, the ledger untouched.
#   deadline_kill_test.sh BUILD_BIN_DIR
set -euo pipefail
# shellcheck disable=SC1091
. "$(dirname "$0")/lib.sh"
crash_setup deadline_kill 10 1
sw_start --set switch.txn_deadline_ms=1000

# Card 7's account row is locked for 6 s; its one withdrawal waits for it.
lock_account "$DB" B7 6
locker=$LOCKER
OUT=$TMP/outcomes.csv
"$BIN/loadgen" --port "$SW_PORT" --terminals 'BA%06d' --count 1 --tmk "$tmk" --cards-bench 10 \
  --hot-card 7 --closed --duration 0.5 --timeout 8000 --mix withdraw=1 --outcomes "$OUT" -q \
  >"$TMP/loadgen.out" 2>"$TMP/loadgen.err" &
lg=$!
# the 91 at the deadline, then the kill while the posting still waits
for _ in $(seq 100); do grep -q 'rc=91 rule=deadline' "$SW_LOG" && break; sleep 0.05; done
grep -q 'rc=91 rule=deadline' "$SW_LOG" || fail "no 91 at the deadline"
kill -9 "$SW_PID"; wait "$SW_PID" 2>/dev/null || true
SW_PID=
wait "$locker" 2>/dev/null || true
wait "$lg" || fail "loadgen: $(cat "$TMP/loadgen.err")"
sw_start --set switch.txn_deadline_ms=1000
sleep 2

seen=$(awk -F, 'NR == 2 { print $7 }' "$OUT")
row=$(sql "select response_code || ' ' || rule || ' reversed ' || reversed_amount || ' of ' || amount_txn
             from auth_log where msg_class = 'auth' and terminal_id = 'BA000001'")
ledger=$(sql "select ledger_balance from accounts where number = 'B7'")
echo "terminal saw: $seen (the 91 of the deadline carries no MAC); auth_log: ${row:-no row}; ledger of B7: $ledger"
[ "$seen" = 91 ] || [ "$seen" = macfail ] || fail "the terminal saw $seen, not the 91"
[ "$ledger" = 100000000 ] \
  || fail "the approval of a withdrawal the terminal was told was declined stands: $row, ledger $ledger"
[ -z "$row" ] || fail "something of the late withdrawal was committed: $row"
echo ok
