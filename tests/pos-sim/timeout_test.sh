#!/usr/bin/env bash
# pos-sim when no answer comes, against the real switchd, hsm-sim and
# PostgreSQL (pg fixture), started the way tests/switch/lib.sh starts them.
# switchd is paused (SIGSTOP) while a purchase is on its way: pos-sim waits
# --timeout, then reverses the purchase (0420, then 0421 repeats with the
# same STAN); switchd is resumed while the repeats still go, approves the
# purchase it finds waiting and then reverses it for the 0420: the hold is
# reversed, the account's available balance is what it was before, and
# auth_log has the reversal, and pos-sim has its 0430. Once in the scripted
# mode, once in the interactive mode (through a pipe), whose receipts say
# NOT COMPLETED and show the reversal.
#   timeout_test.sh BUILD_BIN_DIR
. "$(dirname "$0")/../switch/lib.sh"
. "$src/tests/sims/uilib.sh"
sw_setup "$1"
sw_start
sw_stopped=
resume() { [ -n "$sw_stopped" ] && kill -CONT "$SW_PID"; sw_stopped=; }
trap 'resume; sw_cleanup' EXIT
pause() { kill -STOP "$SW_PID"; sw_stopped=1; }
# wait_for PATTERN FILE: until a line of FILE matches (10 s at most)
wait_for() {
  for _ in $(seq 200); do grep -qE "$1" "$2" 2>/dev/null && return 0; sleep 0.05; done
  resume; fail "no \"$1\" in $2: $(cat "$2")"
}
avail() { sql "select account_available(a) from accounts a where number = '$1'"; }
biz=$(acct_of 453910******2204)
a0=$(avail "$biz")
pos() {
  "$BIN/pos-sim" --port "$SW_PORT" --tmk-file "$src/schema/demo/terminal_tmks.txt" \
    --cards "$src/atm-sim/demo-cards.txt" --timeout 800 -v "$@"
}

# check_reversed STAN AMOUNT WHAT: the purchase of that STAN was approved,
# held, and its hold reversed by a 0420 of pos-sim's, in full.
check_reversed() {
  local id
  id=$(sql "select id from auth_log where terminal_id = 'POS00001' and msg_class = 'auth' and stan = '$1'")
  [ -n "$id" ] || fail "$3: the purchase never reached the database: $(sql "select stan, msg_class, mti, response_code, rule from auth_log where terminal_id = 'POS00001'")"
  [ "$(sql "select response_code || ' ' || amount_txn || ' ' || reversed_amount from auth_log where id = $id")" = "00 $2 $2" ] \
    || fail "$3: the purchase: $(sql "select response_code, rule, amount_txn, reversed_amount from auth_log where id = $id")"
  [ "$(sql "select h.status from holds h join auth_log l on l.hold_id = h.id where l.id = $id")" = reversed ] \
    || fail "$3: the hold: $(sql "select h.* from holds h join auth_log l on l.hold_id = h.id where l.id = $id")"
  [ "$(sql "select mti || ' ' || response_code || ' ' || rule from auth_log where msg_class = 'reversal' and original_auth_id = $id")" \
    = "0420 00 hold_released" ] \
    || fail "$3: the reversal in auth_log: $(sql "select stan, mti, response_code, rule from auth_log where msg_class = 'reversal'")"
  [ "$(avail "$biz")" = "$a0" ] || fail "$3: available balance $(avail "$biz"), before $a0"
}

# --- 1. the scripted mode: STANs 100 sign-on, 101 key change, 102 the
# purchase, 103 its reversal.
cat >"$TMP/day.txt" <<'EOF2'
signon expect=00
keychange expect=00
sleep 500
purchase visa-business 33.00 expect=timeout   # switchd paused: no answer, reversed
echo expect=00                                # the link still works
batch expect=00                               # neither the sale nor its 0420 counts, on either side
EOF2
pos --stan 100 --script "$TMP/day.txt" >"$TMP/out1" 2>"$TMP/trace1" & pid=$!
wait_for '^L2 +keychange .* rc=00 ' "$TMP/out1"
pause
wait_for '^> 0421 ' "$TMP/trace1"             # the purchase and the 0420 went unanswered
resume
wait $pid || { cat "$TMP/out1"; fail "pos-sim script"; }
cat "$TMP/out1"
grep -qE '^L4 +purchase +453910\*\*\*\*\*\*2204 amount=USD33.00 entry=051 0200 rc=timeout reversal=0421/00 sends=[234] expect=timeout ok$' "$TMP/out1" \
  || fail "the purchase's line"
[ "$(grep -c '^> 0200 ' "$TMP/trace1")" = 1 ] || fail "the purchase sent more than once"
[ "$(grep -c '^> 0420 ' "$TMP/trace1")" = 1 ] || fail "not one 0420: $(grep '^> 04' "$TMP/trace1")"
# the reversal: DE 90 names the purchase (0200, STAN 000102); no DE 95, 35, 52
rev=$(grep -m1 '^> 0420 ' "$TMP/trace1")
grep -qE ' 11=000103 .* 90=0200000102[0-9]{10}0000000000100000000000 ' <<<"$rev" || fail "the 0420: $rev"
! grep -qE ' (35|52|95)=' <<<"$rev" || fail "the 0420 carries track 2, a PIN block or DE 95: $rev"
check_reversed 000102 3300 scripted

# --- 2. the interactive mode: STANs 200 sign-on, 201 key change, 202 the
# purchase (signature, 44.00), 203 its reversal, 204 the sign-off.
mkfifo "$TMP/keys"
pos --stan 200 --receipts "$TMP/receipts" <"$TMP/keys" >"$TMP/out2" 2>"$TMP/trace2" & pid=$!
exec 5>"$TMP/keys"
printf '%s\n' 2 4 >&5                         # purchase with signature, visa-business
wait_for 'Amount in USD' "$TMP/out2"
pause
printf '44.00\n' >&5
wait_for '^> 0421 ' "$TMP/trace2"
resume
wait_for '^Reversal' "$TMP/out2"
printf '0\n' >&5
exec 5>&-
wait $pid || { cat "$TMP/out2"; fail "pos-sim interactive"; }
cat "$TMP/out2"
# the merchant's copy (1) and the customer's (2)
check_receipts "$TMP/out2" < <(for n in 1 2; do
  printf "$n|%s\n" "PURCHASE  ការទិញ" "USD 44.00" "NOT COMPLETED  មិនបានបញ្ចប់" \
    "Reason: No answer from the bank" "The transaction has been reversed: nothing is"; done)
for n in 1 2; do
  r=$(receipt "$TMP/out2" $n)
  grep -qE '^Reversal ការបង្វិលប្រាក់វិញ +0421 answered 00$' <<<"$r" || fail "reversal line: $r"
  ! grep -q "Cardholder signature" <<<"$r" || fail "a signature line on a sale not completed: $r"
done
grep -q "^POS closed.$" "$TMP/out2" || fail "no orderly end"
check_reversed 000202 4400 interactive
no_secrets "$TMP/out1" "$TMP/out2" "$TMP/trace1" "$TMP/trace2"
echo ok
