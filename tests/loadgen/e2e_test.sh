#!/usr/bin/env bash
# loadgen against the real switchd, hsm-sim and PostgreSQL (pg fixture),
# with the demo bank and its 3 ATMs (TMKs in schema/demo/terminal_tmks.txt):
#  1. closed loop, ascii87/bin2, the full mix;
#  2. open loop at a low rate, binary87/ascii4, Poisson arrivals;
#  3. closed loop on one hot card whose account row is held locked longer
#     than loadgen's time-out: withdrawals time out and are reversed (0420,
#     0421) like a real ATM's.
# After each run the counts loadgen prints must agree with the database:
# every 0200 and 0420 it sent is in auth_log, its approved withdrawals are
# the approved cash rows (count and sum), and the card accounts' ledger
# moved by exactly -(approved withdrawals) + (withdrawals it reversed).
# Run 3 checks the ledger only: a timed-out withdrawal may have been
# approved and then reversed, which is the point.
#   e2e_test.sh BUILD_BIN_DIR
. "$(dirname "$0")/../switch/lib.sh"
sw_setup "$1"
PORT_B=$(free_port)
sw_start --set "listener bin.address=127.0.0.1:$PORT_B" --set "listener bin.profile=binary87" \
         --set "listener bin.framing=ascii4"
LOADGEN=$BIN/loadgen
TMKS=$src/schema/demo/terminal_tmks.txt

# The demo's primary cards on USD accounts: own-ATM cash in the account's
# currency has no fee or conversion, so the ledger moves by the amounts.
grep -E '^(visa-classic|visa-business|visa-platinum-lite|visa-platinum|mc-standard|mc-platinum|upi-classic|upi-platinum)[ ,]' \
  "$src/atm-sim/demo-cards.txt" >"$TMP/cards.txt"
[ "$(wc -l <"$TMP/cards.txt")" = 8 ] || fail "expected 8 demo cards: $(cat "$TMP/cards.txt")"
pans=$(awk -v q="'" '{ printf "%s%s%s%s", (NR > 1 ? "," : ""), q, $2, q }' "$TMP/cards.txt")
accounts="select c.account_id from demo_card_numbers d join cards c on c.id = d.card_id where d.pan in ($pans)"
[ "$(sql "select count(*) from ($accounts) x")" = 8 ] || fail "card accounts not found"
ledger() { sql "select sum(ledger_balance) from accounts where id in ($accounts)"; }

# v NAME: a value from the bench: lines of the last run
v() { awk -v m="loadgen.$1" '$1 == "bench:" && $2 == m { print $3 }' "$TMP/out"; }
n() { local x; x=$(v "$1"); echo "${x:-0}"; }

wait_idle() {
  for _ in $(seq 200); do
    [ "$(metric switchd_inflight)" = 0 ] && [ "$(metric switchd_pending_reversals)" = 0 ] && return 0
    sleep 0.05
  done
  fail "switchd still busy: inflight $(metric switchd_inflight), pending reversals $(metric switchd_pending_reversals)"
}

# run DESCRIPTION LOADGEN-OPTIONS...: runs loadgen, then checks it against the database
run() {
  local what=$1; shift
  local id0 led0
  id0=$(sql "select coalesce(max(id), 0) from auth_log")
  led0=$(ledger)
  "$LOADGEN" --tmk-file "$TMKS" --terminals 'ATM%05d' --count 3 --cards "$TMP/cards.txt" \
    --amount 20.00 --csv "$TMP/runs.csv" --interval-csv "$TMP/seconds.csv" "$@" >"$TMP/out" 2>"$TMP/err" \
    || fail "$what: loadgen exit $?: $(cat "$TMP/err" "$TMP/out")"
  wait_idle
  echo "== $what"; sed -n '1,/^bench:/p' "$TMP/out" | grep -v '^bench:'
  local sent answered w_ok w_amt r_amt
  sent=$(v sent) answered=$(v answered)
  w_ok=$(n withdraw.approved) w_amt=$(n withdraw.approved_amount) r_amt=$(n reversal.withdraw_amount)
  [ "$(v setup_failed)" = 0 ] || fail "$what: terminals not set up"
  [ "$sent" -gt 20 ] || fail "$what: only $sent requests sent"
  [ "$(v macfail)" = 0 ] && [ "$(v lost)" = 0 ] || fail "$what: MAC failures or lost requests"
  # every answer has one response code
  [ "$(awk '$1 == "bench:" && $2 ~ /^loadgen\.rc_/ { s += $3 } END { print s + 0 }' "$TMP/out")" = "$answered" ] \
    || fail "$what: response codes do not add up to $answered"
  local led1 want
  led1=$(ledger)
  want=$((led0 - w_amt + r_amt))
  [ "$led1" = "$want" ] || fail "$what: ledger moved by $((led1 - led0)), loadgen says -$w_amt + $r_amt"
  if [ "${CHECK_COUNTS:-1}" = 1 ]; then
    [ "$(v timeouts)" = 0 ] && [ "$sent" = "$answered" ] || fail "$what: $sent sent, $answered answered"
    local db0200 dbrev dbcash
    db0200=$(sql "select count(*) from auth_log where id > $id0 and mti = '0200' and terminal_id like 'ATM0000_'")
    dbrev=$(sql "select count(*) from auth_log where id > $id0 and mti = '0420' and terminal_id like 'ATM0000_'")
    dbcash=$(sql "select count(*) || ' ' || coalesce(sum(amount_txn), 0) from auth_log where id > $id0
                  and msg_class = 'auth' and txn_type = 'cash' and response_code = '00'")
    [ "$db0200" = $(( $(n withdraw.sent) + $(n balance.sent) + $(n purchase.sent) )) ] \
      || fail "$what: auth_log has $db0200 0200s, loadgen sent $(n withdraw.sent)+$(n balance.sent)+$(n purchase.sent)"
    [ "$dbrev" = "$(n reversal.sent)" ] || fail "$what: auth_log has $dbrev 0420s, loadgen sent $(n reversal.sent)"
    [ "$dbcash" = "$w_ok $w_amt" ] || fail "$what: approved cash in auth_log '$dbcash', loadgen '$w_ok $w_amt'"
  fi
}

run "closed loop, ascii87" --port "$SW_PORT" --closed --duration 3 \
  --mix withdraw=60,balance=15,purchase=15,reversal=10
# the approvals must include withdrawals and reversals of them, or the checks say little
[ "$(v withdraw.approved)" -gt 0 ] || fail "no withdrawal approved"
[ "$(v reversal.approved)" -gt 0 ] || fail "no reversal approved"
[ "$(v unmatched)" = 0 ] || fail "unmatched answers without time-outs"

run "open loop, binary87" --port "$PORT_B" --profile binary87 --framing ascii4 --rate 30 \
  --duration 3 --mix withdraw=60,balance=15,purchase=15,reversal=10
[ "$(v offered_rate)" = 30 ] || fail "offered rate"
offered=$(awk -F, 'END { print $13 }' "$TMP/runs.csv")
[ "$offered" -gt 45 ] && [ "$offered" -lt 150 ] || fail "30/s for 3 s offered $offered arrivals"
[ "$(( $(v sent) + $(v skipped) ))" = "$offered" ] || fail "offered $offered != sent + skipped"

# 3: the supplementary card (its own daily counts, visa-classic's account)
# as the hot card, its account row locked until a withdrawal has waited
# for it for 1.2 s, past loadgen's time-out of 600 ms (and well before
# switchd's deadline of 3 s).
acct=$(sql "select a.number from demo_card_numbers d join cards c on c.id = d.card_id
             join accounts a on a.id = c.account_id where d.pan = '4539100000001123'")
lock_account "$DB" "$acct"
( for _ in $(seq 300); do
    [ "$(sql "select count(*) from pg_stat_activity where datname = current_database()
              and wait_event_type = 'Lock' and now() - query_start > interval '1.2 s'")" -gt 0 ] && break
    sleep 0.1
  done
  unlock_account ) &
unlocker=$!
CHECK_COUNTS=0 run "time-outs on a locked hot card" --port "$SW_PORT" --closed --duration 3 \
  --cards "$src/atm-sim/demo-cards.txt" --hot-card visa-classic-supp --timeout 600 --repeats 4 \
  --mix withdraw=1
wait "$unlocker"
[ "$(v timeouts)" -gt 0 ] || fail "no time-out while the account was locked"
[ "$(v advice_started)" = "$(v timeouts)" ] || fail "every timed-out withdrawal must be reversed"
[ "$(v advice_unacked)" = 0 ] || fail "reversals not acknowledged"

# The CSV: a header and one row per run; per-second rows with their phase.
[ "$(head -1 "$TMP/runs.csv" | cut -d, -f1-3)" = "time_utc,label,mode" ] || fail "CSV header"
[ "$(wc -l <"$TMP/runs.csv")" = 4 ] || fail "CSV rows: $(cat "$TMP/runs.csv")"
[ "$(grep -c ',measure,' "$TMP/seconds.csv")" -ge 6 ] || fail "interval CSV: $(cat "$TMP/seconds.csv")"

# Not enough open files for the terminals asked for: said, nothing started.
if (ulimit -n 200 && "$LOADGEN" --tmk-file "$TMKS" --count 1000 --closed --port "$SW_PORT" \
      >"$TMP/out" 2>"$TMP/err"); then fail "1000 terminals with 200 files"; fi
grep -q "open files" "$TMP/err" || fail "no open-files message: $(cat "$TMP/err")"
echo ok
