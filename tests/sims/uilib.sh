# Shared by the interactive-mode tests (atm_ui_test.sh, pos_ui_test.sh),
# after tests/switch/lib.sh.
# receipt FILE N: the N-th receipt printed in FILE (from its opening rule of
# 48 '=' to the next receipt's), for checks on one receipt.
receipt() { awk -v n="$2" '$0 ~ /^=+$/ && length($0) == 48 { if (++r % 2 == 1) k++ } k == n' "$1"; }
# has TEXT WANTED: the receipt TEXT holds WANTED, or the test fails.
has() { grep -qF -- "$2" <<<"$1" || fail "receipt lacks \"$2\": $1"; }
# no_secrets FILE...: no demo PAN in clear, no PIN typed in the tests.
no_secrets() {
  local pans
  pans=$(awk '!/^#/ && NF { print $2 }' "$src/atm-sim/demo-cards.txt" | paste -sd'|')
  ! grep -qE "$pans" "$@" || fail "a clear PAN on the output: $(grep -hoE "$pans" "$@" | head -1)"
  ! grep -qwE "1234|5678|5679|9999" "$@" || fail "a PIN on the output"
}
# The demo accounts by a card's masked PAN, and their balances (minor units).
acct_of() { sql "select a.number from accounts a join cards c on c.account_id = a.id where c.pan_masked = '$1'"; }
ledger() { sql "select ledger_balance from accounts where number = '$1'"; }
held() { sql "select held_amount from accounts where number = '$1'"; }
# check_receipts FILE < TABLE: lines "N|text": receipt N of FILE holds text.
check_receipts() {
  local n want
  while IFS='|' read -r n want; do
    [ -n "$n" ] && has "$(receipt "$1" "$n")" "$want"
  done
}
