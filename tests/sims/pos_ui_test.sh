#!/usr/bin/env bash
# pos-sim's interactive mode driven through a pipe (stdin not a terminal)
# against the real switchd, hsm-sim and PostgreSQL (pg fixture), started
# the way tests/switch/lib.sh starts them: a purchase with PIN, a refund, a
# signature purchase and its void, contactless over the no-PIN limit, a
# purchase with cash-back, a pre-authorisation and its completion,
# card-not-present with a right and a wrong CVV2, a recurring payment, a
# wrong PIN, the batch close; the merchant and customer receipts (English
# and Khmer, masked PAN, approval code, decline reasons), the accounts and
# the switch's batch totals afterwards; no clear PAN, PIN or CVV2 anywhere
# on the output.
#   pos_ui_test.sh BUILD_BIN_DIR
. "$(dirname "$0")/../switch/lib.sh"
. "$(dirname "$0")/uilib.sh"
sw_setup "$1"
sw_start
out=$TMP/out
biz=$(acct_of 453910******2204) plat=$(acct_of 453910******4408) lite=$(acct_of 453910******3301)
mcp=$(acct_of 527410******6607)
hb=$(held "$biz") hp=$(held "$plat") hl=$(held "$lite") hm=$(held "$mcp") lb=$(ledger "$biz")

# CVV2 of the Visa Platinum from hsm-sim with its CVK (service code 000).
cvk=$(sql "select k.key_lmk from cards c join crypto_keys k on k.id = c.cvk_key_id where c.pan_masked = '453910******4408'")
[ -n "$cvk" ] || cvk=$(sql "select key_lmk from crypto_keys where kind = 'CVK' limit 1")
cvv2=$("$BIN/hsmctl" --port "$HSM_PORT" cvv --cvk "$cvk" --pan 4539100000004408 --expiry 3011 --service-code 000 | sed -n 's/^cvv=//p')
[ ${#cvv2} = 3 ] || fail "no CVV2 from hsmctl"
bad=$(printf '%03d' $(( (10#$cvv2 + 1) % 1000 )))

# The cashier's keys, one transaction a line: menu choice, card, amounts,
# the customer's PIN or CVV2.
keys=(
  "1 7 25.00 1234"        # purchase, chip and PIN: visa-platinum
  "7 4 7.00"              # refund to visa-business
  "2 4 10.00"             # purchase, signature: visa-business
  "8 1"                   # void it
  "3 4 60.00 1234"        # contactless over 50.00: the PIN is asked for
  "4 9 20.00 5.00 1234"   # cash-back: mc-platinum
  "5 6 40.00 2"           # pre-authorisation, signature: visa-platinum-lite
  "6 45.00"               # its completion
  "9 7 15.00 $cvv2"       # card not present, right CVV2
  "9 7 15.00 $bad"        # wrong CVV2
  "10 7 9.99"             # recurring
  "1 4 5.00 9999"         # wrong PIN
  "11"                    # batch close
  "0"
)
printf '%s\n' "${keys[@]}" | tr ' ' '\n' |
  "$BIN/pos-sim" --port "$SW_PORT" --tmk-file "$src/schema/demo/terminal_tmks.txt" \
    --cards "$src/atm-sim/demo-cards.txt" --stan 1 --receipts "$TMP/receipts" >"$out" 2>"$TMP/err" \
  || { cat "$out" "$TMP/err"; fail "pos-sim session"; }
cat "$out"
grep -q "^POS closed.$" "$out" || fail "no orderly end"

# Receipts: two copies of each of the 12 transactions sent, then the batch.
[ "$(grep -c "^ *MERCHANT COPY  ច្បាប់សម្រាប់ពាណិជ្ជករ$" "$out")" = 12 ] || fail "merchant copies"
[ "$(grep -c "^ *CUSTOMER COPY  ច្បាប់សម្រាប់អតិថិជន$" "$out")" = 12 ] || fail "customer copies"
cmp -s <(sed -n '/^=\{48\}$/,/^=\{48\}$/p' "$out") <(sed -n '/^=\{48\}$/,/^=\{48\}$/p' "$TMP/receipts") \
  || fail "--receipts differs from the screen"
iconv -f UTF-8 -t UTF-8 "$out" >/dev/null || fail "output not valid UTF-8"

auth1=$(sql "select approval_code from auth_log where terminal_id = 'POS00001' and stan = '000003'")
[ ${#auth1} = 6 ] || fail "the first purchase has no approval: $(sql "select stan, response_code, rule from auth_log")"
# What each receipt holds: receipt number (two copies per transaction,
# the merchant's first) | text.
check_receipts "$out" <<EOF2
1|MERCHANT COPY
1|PURCHASE  ការទិញ
1|453910******4408
1|USD 25.00
1|Chip ឈីប
1|PIN entered  បានបញ្ចូលលេខសម្ងាត់
1|Approval code លេខអនុម័ត
1|$auth1
1|APPROVED  បានអនុម័ត
2|CUSTOMER COPY
2|$auth1
3|REFUND  ការសងប្រាក់វិញ
3|453910******2204
3|USD 7.00
3|APPROVED
5|Cardholder signature  ហត្ថលេខាម្ចាស់កាត
7|VOID  ការលុបចោល
7|USD 10.00
9|Contactless (tap) ប៉ះកាត
9|PIN entered
11|PURCHASE WITH CASH-BACK  ការទិញ និងដកប្រាក់
13|PRE-AUTHORISATION  ការអនុញ្ញាតជាមុន
15|COMPLETION  ការបញ្ចប់ការអនុញ្ញាតជាមុន
15|USD 45.00
17|CARD NOT PRESENT  ការទិញដោយមិនបង្ហាញកាត
17|E-commerce
17|APPROVED
19|DECLINED  បានបដិសេធ
19|Reason: Not approved by your bank (05)
19|មូលហេតុ៖ ធនាគារមិនអនុម័តប្រតិបត្តិការនេះ
21|RECURRING PAYMENT  ការទូទាត់ប្រចាំ
23|Reason: Incorrect PIN (55)
23|មូលហេតុ៖ លេខសម្ងាត់មិនត្រឹមត្រូវ
25|BATCH CLOSE  ការបិទបញ្ជីប្រចាំថ្ងៃ
25|Totals agree with the bank.
EOF2
! grep -q "Cardholder signature" <<<"$(receipt "$out" 1)" || fail "a signature line on a PIN purchase"
! grep -q "Cardholder signature" <<<"$(receipt "$out" 6)" || fail "a signature line on the customer's copy"
# lines laid out to the right edge: label, then the value
while IFS='|' read -r n line; do
  grep -qE "$line" <<<"$(receipt "$out" "$n")" || fail "receipt $n lacks /$line/: $(receipt "$out" "$n")"
done <<'EOF2'
11|^Cash-back ប្រាក់ដកជាសាច់ប្រាក់ +USD 5\.00$
11|^Total សរុប +USD 25\.00$
25|^Sales ការលក់ +7  USD 189\.99$
25|^Voids ការលុបចោល +1  USD 10\.00$
25|^Refunds ការសងប្រាក់វិញ +1  USD 7\.00$
EOF2

# The accounts: holds for the purchases (the void released its 10.00),
# the completed 45.00, the refund credited.
[ "$(held "$plat")" = $((hp + 4999)) ] || fail "Visa Platinum held $(held "$plat"), want $((hp + 4999))"
[ "$(held "$biz")" = $((hb + 6000)) ] || fail "Visa Business held $(held "$biz"), want $((hb + 6000))"
[ "$(held "$lite")" = $((hl + 4500)) ] || fail "Visa Platinum Lite held $(held "$lite"), want $((hl + 4500))"
[ "$(held "$mcp")" = $((hm + 2500)) ] || fail "Mastercard Platinum held $(held "$mcp"), want $((hm + 2500))"
[ "$(ledger "$biz")" = $((lb + 700)) ] || fail "refund: ledger $(ledger "$biz"), want $((lb + 700))"
[ "$(sql "select rule from auth_log where terminal_id = 'POS00001' and response_code = '05' order by id desc limit 1")" = cvv2_mismatch ] \
  || fail "wrong CVV2 rule"
[ "$(sql "select response_code || ' ' || switch_totals::text from terminal_reconciliations where terminal_id = 'POS00001'")" \
  = "00 {1,0,7,1,700,0,18999,1000}" ] || fail "switch's totals: $(sql "select * from terminal_reconciliations")"

no_secrets "$out" "$TMP/receipts" "$TMP/err"
! grep -qE "(^|[[:space:]])($cvv2|$bad)([[:space:]]|$)" "$out" "$TMP/receipts" || fail "a CVV2 on the output"
grep -q '^CVV2 (3 digits): \*\*\*$' "$out" || fail "the CVV2 entry not masked"
echo ok
