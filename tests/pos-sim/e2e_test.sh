#!/usr/bin/env bash
# pos-sim against the real switchd, hsm-sim and PostgreSQL (pg fixture), the
# way tests/switch/lib.sh starts them: the card rules at the point of sale
# (docs/message-profile.md "Cardholder verification") with real PIN blocks
# and MACs, then what they did to the accounts.
#   e2e_test.sh BUILD_BIN_DIR
. "$(dirname "$0")/../switch/lib.sh"
sw_setup "$1"
SW_B=$(free_port)
sw_start --set "listener b.address=127.0.0.1:$SW_B" --set "listener b.profile=binary87" \
  --set "listener b.framing=ascii4"
out=$TMP/out
acct_of() { sql "select a.number from accounts a join cards c on c.account_id = a.id where c.pan_masked = '$1'"; }
held() { sql "select held_amount from accounts where number = '$1'"; }
ledger() { sql "select ledger_balance from accounts where number = '$1'"; }
rule() { sql "select response_code || ' ' || rule from auth_log where stan = '$1' and terminal_id = 'POS00001' order by id desc limit 1"; }
biz=$(acct_of 453910******2204) plat=$(acct_of 453910******4408) lite=$(acct_of 453910******3301)
hb=$(held "$biz") hp=$(held "$plat") hl=$(held "$lite") lb=$(ledger "$biz")

# CVV2 of the Visa Platinum from hsm-sim with its CVK (service code 000).
pan=4539100000004408
cvk=$(sql "select k.key_lmk from cards c join crypto_keys k on k.id = c.cvk_key_id where c.pan_masked = '453910******4408'")
[ -n "$cvk" ] || cvk=$(sql "select key_lmk from crypto_keys where kind = 'CVK' limit 1")
cvv2=$("$BIN/hsmctl" --port "$HSM_PORT" cvv --cvk "$cvk" --pan $pan --expiry 3011 --service-code 000 | sed -n 's/^cvv=//p')
[ ${#cvv2} = 3 ] || fail "no CVV2 from hsmctl"
bad=$(printf '%03d' $(( (10#$cvv2 + 1) % 1000 )))

cat >"$TMP/day.txt" <<EOF2
purchase visa-business 10.00 expect=58                      # before sign-on
signon expect=00
echo expect=00
purchase visa-business 10.00 expect=00                      # signature: chip, no PIN
purchase visa-business 20.00 entry=contactless expect=00    # under the no-PIN limit
purchase visa-business 60.00 entry=contactless expect=55    # over 50.00: PIN needed
keychange expect=00
purchase visa-business 60.00 entry=contactless pin=card expect=00
purchase visa-business 5.00 entry=stripe pin=9999 expect=55 # wrong PIN
cashback mc-platinum 20.00 5.00 expect=55                   # cash-back needs the PIN
cashback mc-platinum 20.00 5.00 pin=card expect=00
purchase visa-platinum 15.00 entry=ecom cvv2=$cvv2 expect=00
purchase visa-platinum 15.00 entry=ecom cvv2=$bad expect=05
purchase visa-platinum 15.00 entry=ecom expect=05           # no CVV2
purchase visa-platinum 9.99 recurring expect=00             # card-on-file, RC=1
preauth visa-platinum-lite 40.00 expect=00
complete 45.00 expect=00                                    # within the 20% tolerance
repeat expect=00                                            # the 0221: nothing twice
refund visa-business 7.00 entry=stripe expect=00
purchase visa-platinum 12.00 expect=00
repeat expect=00                                            # the 0201: the same answer
void expect=00                                              # 0400 for the 12.00
repeat expect=00                                            # the 0401
void expect=error                                           # nothing left to void
batch expect=00                                             # the switch counts the same: in balance
signoff expect=00
EOF2
"$BIN/pos-sim" --port "$SW_PORT" --tmk-file "$src/schema/demo/terminal_tmks.txt" \
  --cards "$src/atm-sim/demo-cards.txt" --stan 1 --script "$TMP/day.txt" >"$out" \
  || { cat "$out"; fail "pos-sim session"; }
cat "$out"

# The switch's reasons, step by step (STANs from 1 in script order; the
# sign-off, echo and key change take one each too).
[ "$(rule 000001 | cut -c1-2)" = 58 ] || fail "before sign-on: $(rule 000001)"
[ "$(rule 000006)" = "55 pin_required_contactless" ] || fail "contactless over the limit: $(rule 000006)"
[ "$(rule 000010)" = "55 pin_required" ] || fail "cash-back without PIN: $(rule 000010)"
[ "$(rule 000013)" = "05 cvv2_mismatch" ] || fail "wrong CVV2: $(rule 000013)"
[ "$(rule 000014)" = "05 cvv2_required" ] || fail "CNP without CVV2: $(rule 000014)"

# Holds: Visa Business 10 + 20 + 60, Visa Platinum 15 + 9.99 (+12 voided),
# Visa Platinum Lite the completed 45.00; the refund credited at once.
[ "$(held "$biz")" = $((hb + 9000)) ] || fail "Visa Business held $(held "$biz"), expected $((hb + 9000))"
[ "$(held "$plat")" = $((hp + 2499)) ] || fail "Visa Platinum held $(held "$plat"), expected $((hp + 2499))"
[ "$(held "$lite")" = $((hl + 4500)) ] || fail "Visa Platinum Lite held $(held "$lite"), expected $((hl + 4500))"
[ "$(ledger "$biz")" = $((lb + 700)) ] || fail "refund: ledger $(ledger "$biz"), expected $((lb + 700))"
[ "$(sql "select count(*) from auth_log where msg_class = 'completion' and response_code = '00'")" = 1 ] \
  || fail "the completion and its repeat"

# The batch sent this session's totals: debits 10 + 20 + 60 + 25 + 15 + 9.99
# + 45 (completion) + 12, the void, the refund.
grep -qE '^L[0-9]+ +batch +currency=USD debits=8/196.99 debit-reversals=1/12.00 credits=1/7.00 credit-reversals=0/0.00 0500 rc=00 ' "$out" \
  || fail "batch totals"
[ "$(sql "select response_code || ' ' || switch_totals::text from terminal_reconciliations where terminal_id = 'POS00001'")" \
  = "00 {1,0,8,1,700,0,19699,1200}" ] || fail "switch's totals: $(sql "select * from terminal_reconciliations")"
# An empty KHR batch from a terminal without keys: in balance, unMACed.
printf 'signon expect=00\nbatch currency=KHR expect=00\n' >"$TMP/batch.txt"
"$BIN/pos-sim" --port "$SW_PORT" --terminal POS00002 --merchant MER000000000002 --script "$TMP/batch.txt" >"$out.2" \
  || { cat "$out.2"; fail "batch without keys"; }
cat "$out.2"
grep -qE 'purchase +453910\*\*\*\*\*\*2204 amount=USD60.00 entry=071 pin=tpk 0200 rc=00 ' "$out" || fail "PIN purchase line"

# Nothing secret on the terminal's output or in the switch's log.
# (the CVV2 as a number of its own: "auth=000013 " is no CVV2 013)
! grep -qE "4539100000002204|4539100000004408|5274100000006607|cvv2=|(^|[^0-9])$cvv2( |$)" "$out" \
  || fail "clear PAN or CVV2 printed"
! grep -qE "4539100000004408|C2003$cvv2" "$SW_LOG" || fail "clear PAN or CVV2 in the switch log"

# binary87 with ascii4 framing: a PIN purchase after a key change (MACed,
# PIN block as raw bytes) and its void (DE 90 in BCD, MAC in DE 128).
cat >"$TMP/bin.txt" <<'EOF2'
signon expect=00
keychange expect=00
purchase upi-platinum 30.00 entry=stripe pin=card expect=00
void expect=00
EOF2
"$BIN/pos-sim" --port "$SW_B" --profile binary87 --framing ascii4 --terminal POS00003 \
  --merchant MER000000000003 --tmk-file "$src/schema/demo/terminal_tmks.txt" \
  --script "$TMP/bin.txt" >"$out.3" || { cat "$out.3"; fail "binary87 session"; }
cat "$out.3"

# DUKPT PIN pads (the demo BDKs of schema/demo/terminal_bdks.txt, formed in
# hsm-sim by load demo): TDES (KSN in KS, block in DE 52) and AES (KSN and
# format-4 block in KS / P4), a right and a wrong PIN each; the wrong one
# counts a try, the right one resets it.
tries() { sql "select pin_tries from cards where pan_masked = '453910******3301'"; }
stan=500
for v in tdes aes; do
  cat >"$TMP/dukpt.txt" <<'EOF2'
signon expect=00
purchase visa-platinum-lite 3.00 entry=chip pin=card expect=00
purchase visa-platinum-lite 4.00 entry=chip pin=9999 expect=55
EOF2
  "$BIN/pos-sim" --port "$SW_PORT" --terminal POS00002 --merchant MER000000000002 --dukpt $v \
    --bdk-file "$src/schema/demo/terminal_bdks.txt" --script "$TMP/dukpt.txt" >"$out.d$v" \
    || { cat "$out.d$v"; fail "DUKPT $v session"; }
  cat "$out.d$v"
  [ "$(tries)" = 1 ] || fail "DUKPT $v: wrong PIN not counted ($(tries))"
  echo 'signon expect=00
purchase visa-platinum-lite 3.00 entry=chip pin=card expect=00' >"$TMP/dukpt2.txt"
  "$BIN/pos-sim" --port "$SW_PORT" --terminal POS00002 --merchant MER000000000002 --dukpt $v \
    --bdk-file "$src/schema/demo/terminal_bdks.txt" --stan $stan --script "$TMP/dukpt2.txt" >/dev/null \
    || fail "DUKPT $v: right PIN after a wrong one"
  [ "$(tries)" = 0 ] || fail "DUKPT $v: right PIN did not reset the tries ($(tries))"
  stan=600   # a new key: the same STAN and DE 7 within a second would be a repeat
done
grep -q 'pin=dukpt ksn=123456789012345600000001 0200 rc=00' "$out.daes" || fail "AES DUKPT line: $(cat "$out.daes")"

# A bad script is refused before anything is sent.
printf 'signon\npurchase visa-classic 1.00 cvv2=12\n' >"$TMP/bad.txt"
if "$BIN/pos-sim" --port "$SW_PORT" --script "$TMP/bad.txt" 2>"$TMP/err" >/dev/null; then fail "bad script accepted"; fi
[ "$(cat "$TMP/err")" = "pos-sim: $TMP/bad.txt:2: cvv2=12: want 3 digits" ] || fail "bad script: $(cat "$TMP/err")"
echo ok
