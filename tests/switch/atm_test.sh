#!/usr/bin/env bash
# ATM withdrawals through switchd with atm-sim (real ISO 9564 PIN blocks
# under a TPK from a key change, MACs with the TAK), with the database
# checked afterwards: an approval posts exactly the amount from the
# customer to the ATM's cash account; a wrong PIN posts nothing and counts
# a try; the right PIN afterwards resets the count.
#   atm_test.sh BUILD_BIN_DIR
. "$(dirname "$0")/lib.sh"
sw_setup "$1"
sw_start
acct=100000011
ledger() { sql "select ledger_balance from accounts where number='$1'"; }
tries() { sql "select pin_tries from cards where pan_masked = '453910******1107'"; }
cash=$(sql "select a.number from terminals t join accounts a on a.id = t.cash_account_usd where t.terminal_id = 'ATM00001'")
l0=$(ledger $acct) c0=$(ledger "$cash")
atm() {
  "$BIN/atm-sim" --port "$SW_PORT" --terminal ATM00001 --tmk-file "$src/schema/demo/terminal_tmks.txt" \
    --cards "$src/atm-sim/demo-cards.txt" --script "$1"
}
cat >"$TMP/s1.txt" <<'EOF2'
signon expect=00
keychange expect=00
withdraw visa-classic 20.00 expect=00
withdraw visa-classic 50.00 pin=9999 expect=55
EOF2
atm "$TMP/s1.txt" >"$TMP/out1" || { cat "$TMP/out1"; fail "session 1"; }
[ "$(ledger $acct)" = $((l0 - 2000)) ] || fail "customer ledger $(ledger $acct), expected $((l0 - 2000))"
[ "$(ledger "$cash")" = $((c0 + 2000)) ] || fail "ATM cash ledger $(ledger "$cash"), expected $((c0 + 2000))"
[ "$(tries)" = 1 ] || fail "wrong PIN not counted: tries $(tries)"
[ "$(sql "select count(*) from auth_log where response_code = '55' and rule like '%pin%'")" = 1 ] \
  || fail "wrong PIN not logged with its rule"
cat >"$TMP/s2.txt" <<'EOF2'
signon expect=00
keychange expect=00
balance visa-classic expect=00
EOF2
atm "$TMP/s2.txt" >"$TMP/out2" || { cat "$TMP/out2"; fail "session 2"; }
[ "$(tries)" = 0 ] || fail "right PIN did not reset the tries: $(tries)"
grep -q "ledger=USD$(printf '%d.%02d' $(( (l0 - 2000) / 100 )) $(( (l0 - 2000) % 100 )))" "$TMP/out2" \
  || fail "balance inquiry does not show the ledger: $(cat "$TMP/out2")"
grep -q "4539100000001107" "$SW_LOG" "$TMP/out1" "$TMP/out2" && fail "clear PAN printed"
cat "$TMP/out1" "$TMP/out2"
echo ok
