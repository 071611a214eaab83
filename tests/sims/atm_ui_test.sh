#!/usr/bin/env bash
# atm-sim's interactive mode driven through a pipe (stdin not a terminal)
# against the real switchd, hsm-sim and PostgreSQL (pg fixture), started
# the way tests/switch/lib.sh starts them: a fast-cash withdrawal, a
# balance inquiry, a withdrawal declined for insufficient funds, a wrong
# PIN, a PIN change, a partial dispense from a jammed dispenser and a
# cardless withdrawal; the receipts (English and Khmer, masked PAN,
# approval code, fee, balances, the decline reasons) and the accounts
# afterwards; no clear PAN, PIN or code anywhere on the output.
#   atm_ui_test.sh BUILD_BIN_DIR
. "$(dirname "$0")/../switch/lib.sh"
. "$(dirname "$0")/uilib.sh"
sw_setup "$1"
sw_start
out=$TMP/out
atm() { # [options]: reads the keys from stdin
  "$BIN/atm-sim" --port "$SW_PORT" --tmk-file "$src/schema/demo/terminal_tmks.txt" \
    --cards "$src/atm-sim/demo-cards.txt" --receipts "$TMP/receipts" "$@"
}

classic=$(acct_of 453910******1107) biz=$(acct_of 453910******2204) plat=$(acct_of 453910******4408)
l_classic=$(ledger "$classic") l_biz=$(ledger "$biz") l_plat=$(ledger "$plat")

# --- 1. fast cash, balance, insufficient funds, a wrong PIN ----------------
# visa-classic (card 2): USD 20 fast cash, another transaction, balance;
# visa-business (4): USD 5,000.00, more than it has; visa-classic with a
# wrong PIN, the balance declined, then finish; shut down.
printf '%s\n' 2 1234 1 2 1 3 0 \
               4 1234 1 5 5000 0 \
               2 9999 3 0 \
               q | atm --stan 100 >"$out.1" 2>"$TMP/err.1" || { cat "$out.1" "$TMP/err.1"; fail "session 1"; }
cat "$out.1"
grep -q "^ATM shut down.$" "$out.1" || fail "no orderly shut-down"

r=$(receipt "$out.1" 1)
auth=$(sql "select approval_code from auth_log where terminal_id = 'ATM00001' and txn_type = 'cash' and response_code = '00' order by id limit 1")
[ ${#auth} = 6 ] || fail "no approval in auth_log"
has "$r" "WITHDRAWAL  ដកប្រាក់"
has "$r" "453910******1107"
has "$r" "USD 20.00"
has "$r" "Fee កម្រៃសេវា"
has "$r" "Approval code លេខអនុម័ត"
has "$r" "$auth"
has "$r" "USD 4,980.00"
has "$r" "APPROVED  បានអនុម័ត"
has "$r" "Please take your cash."
grep -qE '^Fee កម្រៃសេវា +USD 0\.00$' <<<"$r" || fail "fee line: $r"
grep -qE '^Ledger balance សមតុល្យក្នុងបញ្ជី +USD 4,980\.00$' <<<"$r" || fail "ledger line: $r"
[ "$(ledger "$classic")" = $((l_classic - 2000)) ] || fail "visa-classic ledger $(ledger "$classic"), want $((l_classic - 2000))"

r=$(receipt "$out.1" 2)
has "$r" "BALANCE INQUIRY  សាកសួរសមតុល្យ"
has "$r" "Available balance សមតុល្យអាចប្រើបាន"
grep -qE '^Ledger balance សមតុល្យក្នុងបញ្ជី +USD 4,980\.00$' <<<"$r" || fail "balance receipt: $r"

r=$(receipt "$out.1" 3)
has "$r" "453910******2204"
has "$r" "USD 5,000.00"
has "$r" "DECLINED  បានបដិសេធ"
has "$r" "Reason: Insufficient funds (51)"
has "$r" "មូលហេតុ៖ ប្រាក់មិនគ្រប់គ្រាន់"
! grep -q "Approval code" <<<"$r" || fail "a decline with an approval code: $r"
[ "$(ledger "$biz")" = "$l_biz" ] || fail "visa-business ledger moved on a decline"
[ "$(sql "select rule from auth_log where terminal_id = 'ATM00001' and amount_txn = 500000 order by id desc limit 1")" = insufficient_funds ] \
  || fail "auth_log rule of the 5,000.00"

r=$(receipt "$out.1" 4)
has "$r" "Reason: Incorrect PIN (55)"
has "$r" "មូលហេតុ៖ លេខសម្ងាត់មិនត្រឹមត្រូវ"
grep -q "Incorrect PIN  លេខសម្ងាត់មិនត្រឹមត្រូវ" "$out.1" || fail "no wrong-PIN screen"

# Every receipt went to --receipts too, and the text is UTF-8.
[ "$(grep -c '^APPROVED\|^DECLINED' "$TMP/receipts")" = 4 ] || fail "receipts file: $(cat "$TMP/receipts")"
iconv -f UTF-8 -t UTF-8 "$out.1" >/dev/null || fail "output not valid UTF-8"

# --- 2. a jammed dispenser: USD 100 in USD 20 notes, 2 come out ------------
printf '%s\n' 7 1234 1 4 0 q | atm --stan 300 --cassettes USD:20x50 --jam 2 >"$out.2" 2>&1 \
  || { cat "$out.2"; fail "session 2"; }
cat "$out.2"
r=$(receipt "$out.2" 1)
has "$r" "453910******4408"
has "$r" "APPROVED  បានអនុម័ត"
grep -qE '^Dispensed ប្រាក់ដែលបានចេញ +USD 40\.00$' <<<"$r" || fail "dispensed line: $r"
grep -qE '^Reversal ការបង្វិលប្រាក់វិញ +0420 answered 00$' <<<"$r" || fail "reversal line: $r"
! grep -q "Ledger balance" <<<"$r" || fail "the authorisation's balances after a partial reversal: $r"
[ "$(ledger "$plat")" = $((l_plat - 4000)) ] || fail "visa-platinum ledger $(ledger "$plat"), want $((l_plat - 4000))"
[ "$(sql "select reversed_amount from auth_log where terminal_id = 'ATM00001' and msg_class = 'auth' and amount_txn = 10000 order by id desc limit 1")" = 6000 ] \
  || fail "60.00 not reversed in auth_log"
# amounts the cassettes cannot pay are refused before anything is sent
printf '%s\n' 7 1234 1 5 15 0 q | atm --stan 400 --cassettes USD:20x50 >"$out.3" 2>&1 || fail "session 3"
grep -q "This ATM cannot pay USD 15.00: amounts in multiples of USD 20.00" "$out.3" || { cat "$out.3"; fail "USD 15 not refused"; }
[ "$(sql "select count(*) from auth_log where terminal_id = 'ATM00001' and amount_txn = 1500")" = 0 ] || fail "USD 15 sent"

# --- 3. time-out: switchd stops answering during a withdrawal; the ATM pays
# nothing, reverses (0420 + 3 x 0421), and the account ends as it was.
mc=$(acct_of 527410******6607) l_mc=$(ledger "$(acct_of 527410******6607)")
mkfifo "$TMP/keys"
atm --stan 700 --timeout 700 <"$TMP/keys" >"$out.6" 2>&1 & apid=$!
exec 5>"$TMP/keys"
printf '%s\n' 9 1234 1 >&5                       # mc-platinum, its PIN, withdraw USD
for _ in $(seq 200); do grep -q "^WITHDRAW USD" "$out.6" && break; sleep 0.05; done
kill -STOP "$SW_PID"
printf '3\n' >&5                                  # USD 50
for _ in $(seq 200); do grep -q "^Reversal" "$out.6" && break; sleep 0.05; done
kill -CONT "$SW_PID"
printf '%s\n' 0 q >&5
exec 5>&-
wait $apid || { cat "$out.6"; fail "session 6"; }
cat "$out.6"
r=$(receipt "$out.6" 1)
has "$r" "NOT COMPLETED  មិនបានបញ្ចប់"
has "$r" "Reason: No answer from the bank"
has "$r" "មូលហេតុ៖ គ្មានចម្លើយពីធនាគារ"
has "$r" "No cash was paid out"
grep -qE '^Reversal ការបង្វិលប្រាក់វិញ +unacknowledged \(4 sent\)$' <<<"$r" || fail "time-out reversal line: $r"
! grep -q "Dispensed" <<<"$r" || fail "cash paid out on a time-out"
for _ in $(seq 100); do   # switchd catches up: the withdrawal, then its reversal
  [ "$(sql "select count(*) from auth_log where msg_class = 'reversal' and stan like '0007%'")" -ge 1 ] && break
  sleep 0.05
done
[ "$(sql "select response_code || ' ' || reversed_amount from auth_log where msg_class = 'auth' and stan = '000702'")" = "00 5000" ] \
  || fail "the timed-out withdrawal: $(sql "select stan, msg_class, response_code, rule, reversed_amount from auth_log where stan like '0007%'")"
[ "$(ledger "$mc")" = "$l_mc" ] || fail "mc-platinum ledger $(ledger "$mc") after the time-out, want $l_mc"

# --- 4. PIN change: two different new PINs refused locally, then 1234 -> 5678
printf '%s\n' 6 1234 4 5678 5679 4 5678 5678 1 3 0 6 5678 3 0 q | atm --stan 500 >"$out.4" 2>&1 \
  || { cat "$out.4"; fail "session 4"; }
cat "$out.4"
grep -q "The two PINs differ; nothing was changed." "$out.4" || fail "PIN mismatch not refused"
r=$(receipt "$out.4" 1)
has "$r" "PIN CHANGE  ប្ដូរលេខសម្ងាត់"
has "$r" "APPROVED  បានអនុម័ត"
has "$r" "លេខសម្ងាត់របស់អ្នកត្រូវបានប្ដូរ។"
for n in 2 3; do has "$(receipt "$out.4" $n)" "APPROVED  បានអនុម័ត"; done   # the new PIN works
[ "$(sql "select count(*) from auth_log where txn_type = 'pin_change' and response_code = '00'")" = 1 ] || fail "PIN change not logged"

# --- 5. cardless cash: a voucher of USD 50 -----------------------------------
"$BIN/switchctl" --db "dbname=$DB" cardless send --account 100000011 --amount 50.00 --phone +85512345678 \
  --hsm "127.0.0.1:$HSM_PORT" >"$TMP/send.out" || fail "cardless send: $(cat "$TMP/send.out")"
ref=$(sed -n 's/^voucher \([0-9]*\):.*/\1/p' "$TMP/send.out")
code=$(sed -n 's/.*, code \([0-9]*\) .*/\1/p' "$TMP/send.out")
[ ${#ref} = 16 ] && [ ${#code} = 8 ] || fail "cardless send said: $(cat "$TMP/send.out")"
printf '%s\n' c "$ref" "$code" 1 3 q | atm --stan 600 >"$out.5" 2>&1 || { cat "$out.5"; fail "session 5"; }
cat "$out.5"
r=$(receipt "$out.5" 1)
has "$r" "CARDLESS WITHDRAWAL  ដកប្រាក់ដោយគ្មានកាត"
has "$r" "****${ref: -4}"
has "$r" "USD 50.00"
has "$r" "APPROVED  បានអនុម័ត"
[ "$(sql "select status from cardless_vouchers where reference = '$ref'")" = redeemed ] || fail "voucher not redeemed"

# --- nothing secret on the screen or in the receipts -------------------------
no_secrets "$out".* "$TMP/receipts" "$TMP"/err.*
! grep -qE "$code|$ref" "$out".* "$TMP/receipts" || fail "the voucher's code or reference on the output"
! grep -q "$code" "$SW_LOG" || fail "the code in switchd's log"
echo ok
