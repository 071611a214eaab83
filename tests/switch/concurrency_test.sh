#!/usr/bin/env bash
# Fifty ATM withdrawals at once on one Visa Classic card (5 cash withdrawals
# a day): exactly 5 approved, 45 answered 65, the ledger down by exactly five
# withdrawals; then the same on another Visa Classic card through two switchd
# processes sharing the database, 25 withdrawals through each.
#
# Every withdrawal is a real atm-sim session (sign-on, key change, PIN block
# under its own TPK, MAC) from its own terminal: atm-sim sends one request
# at a time, so fifty concurrent requests need fifty terminals (ATMC0001..
# ATMC0050, added here). To make them truly simultaneous, the card's account
# row is locked by another session until all fifty are in flight in the
# switch(es) (/metrics switchd_inflight), then released: they all race for
# the card at the same instant.
#   concurrency_test.sh BUILD_BIN_DIR
. "$(dirname "$0")/lib.sh"
sw_setup "$1"
N=50
AMOUNT=1000 # minor units, 10.00
# The test's ATMs: ATM00001's owner, cash accounts and TMK (a test shortcut:
# real terminals each have their own TMK).
sql "INSERT INTO terminals (terminal_id, kind, institution_id, mcc, location, tmk_key_id, cash_account_usd,
                            cash_account_khr)
     SELECT 'ATMC' || lpad(n::text, 4, '0'), kind, institution_id, mcc, 'concurrency test', tmk_key_id,
            cash_account_usd, cash_account_khr
       FROM terminals, generate_series(1, $N) n WHERE terminal_id = 'ATM00001'"
tmk=$(awk '$1 == "ATM00001" { print $2 }' "$src/schema/demo/terminal_tmks.txt")
for n in $(seq $N); do printf 'ATMC%04d %s\n' "$n" "$tmk"; done >"$TMP/tmks.txt"
# the demo cards with the database's expiry (DE 35 must match the card's)
exp=$(sql "select to_char(expiry, 'YYMM') from cards where id = 2")
awk -v e="$exp" '/^#/ || !NF { print; next } { $3 = e; print }' "$src/atm-sim/demo-cards.txt" >"$TMP/cards.txt"

sw_start --set switch.txn_deadline_ms=30000
SW2_PID=
trap '[ -n "$SW2_PID" ] && { kill -9 $SW2_PID; wait $SW2_PID; } 2>/dev/null || true; sw_cleanup' EXIT

inflight() { curl -s "http://127.0.0.1:$1/metrics" | awk '$1 == "switchd_inflight" { print $2 }'; }
ledger() { sql "select a.ledger_balance from cards c join accounts a on a.id = c.account_id where c.id = $1"; }

# burst CARD-NAME CARD-ID PORT:ADMIN...: N withdrawals of AMOUNT on the card,
# spread over the switchd processes given; checks the answers and the books.
# Each burst has STANs of its own: two bursts can fall in one second, and
# the switch's duplicate key is DE 32, 41, 11 and 7 (to the second).
stan_base=0
burst() {
  local name=$1 id=$2; shift 2
  local targets=("$@") acct l0
  acct=$(sql "select a.number from cards c join accounts a on a.id = c.account_id where c.id = $id")
  l0=$(ledger "$id")
  printf 'signon expect=00\nkeychange expect=00\nwithdraw %s %d.%02d\n' "$name" $((AMOUNT / 100)) $((AMOUNT % 100)) \
    >"$TMP/burst.txt"
  lock_account "$DB" "$acct"
  local pids=() n t
  stan_base=$((stan_base + 1000))
  rm -f "$TMP"/out.*
  for n in $(seq $N); do
    t=${targets[$(((n - 1) % ${#targets[@]}))]}
    "$BIN/atm-sim" --port "${t%%:*}" --terminal "$(printf 'ATMC%04d' "$n")" --tmk-file "$TMP/tmks.txt" \
      --cards "$TMP/cards.txt" --timeout 30000 --stan $((stan_base + n * 10)) --script "$TMP/burst.txt" >"$TMP/out.$n" 2>&1 &
    pids+=($!)
  done
  # all N waiting for the card inside the switch(es), then let them go
  local total=0
  for _ in $(seq 600); do
    total=0
    for t in "${targets[@]}"; do total=$((total + $(inflight "${t##*:}"))); done
    [ "$total" -ge $N ] && break
    sleep 0.05
  done
  [ "$total" -ge $N ] || fail "only $total of $N withdrawals in flight after 30 s"
  unlock_account
  for n in "${!pids[@]}"; do wait "${pids[$n]}" || { cat "$TMP/out.$((n + 1))"; fail "atm-sim session $((n + 1))"; }; done
  local ok declined
  ok=$(grep -h '^L3 .* rc=00 ' "$TMP"/out.* | wc -l)
  declined=$(grep -h '^L3 .* rc=65 ' "$TMP"/out.* | wc -l)
  echo "$name: $N at once through ${#targets[@]} switchd: $ok approved, $declined declined 65"
  [ "$ok" = 5 ] && [ "$declined" = $((N - 5)) ] || { grep -h '^L3' "$TMP"/out.* | sort | uniq -c | head; \
    fail "$name: $ok approved and $declined declined 65, want 5 and $((N - 5))"; }
  [ "$(ledger "$id")" = $((l0 - 5 * AMOUNT)) ] || fail "$name: ledger $(ledger "$id"), want $((l0 - 5 * AMOUNT))"
  [ "$(sql "select sum(count) from daily_usage where card_id = $id and channel = 'cash'")" = 5 ] \
    || fail "$name: daily_usage count is not 5"
  [ "$(sql "select count(*) filter (where response_code = '00') || '/' || count(*) filter (where rule = 'daily_count_cash')
            from auth_log where card_id = $id")" = "5/$((N - 5))" ] || fail "$name: auth_log not 5 approved, 45 daily_count_cash"
}

# One switchd, Visa Classic (card 2).
burst visa-classic 2 "$SW_PORT:$ADMIN_PORT"

# Two switchd processes on the same database, the other Visa Classic card on
# that account (card 1, the supplementary card: 5 a day as well).
SW2_PORT=$(free_port) ADMIN2_PORT=$(free_port)
"$BIN/switchd" --set "listener atm.address=127.0.0.1:$SW2_PORT" --set "admin.address=127.0.0.1:$ADMIN2_PORT" \
  --set "hsm.address=127.0.0.1:$HSM_PORT" --set "database.conninfo=dbname=$DB" \
  --set switch.txn_deadline_ms=30000 2>"$TMP/switchd2.log" &
SW2_PID=$!
for _ in $(seq 100); do curl -sf "http://127.0.0.1:$ADMIN2_PORT/healthz" >/dev/null && break; sleep 0.05; done
burst visa-classic-supp 1 "$SW_PORT:$ADMIN_PORT" "$SW2_PORT:$ADMIN2_PORT"
[ "$(grep -c 'txn: mti=0200' "$TMP/switchd2.log")" = $((N / 2)) ] || fail "the second switchd did not take its 25"

out=$(psql -X -q -At -v ON_ERROR_STOP=1 -d "$DB" -f "$here/rules/invariants.sql")
[ -z "$out" ] || fail "ledger invariants: $out"
awk '!/^#/ && NF { print $2 }' "$src/atm-sim/demo-cards.txt" >"$TMP/pans"
grep -q -F -f "$TMP/pans" "$SW_LOG" "$TMP/switchd2.log" "$TMP"/out.* && fail "a clear PAN in a log"
echo ok
