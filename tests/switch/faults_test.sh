#!/usr/bin/env bash
# switchd when the parts around it fail, on a cluster of its own (it stops
# and starts PostgreSQL, so it cannot share the "pg" fixture):
#  - an approval that commits after the deadline (the account row locked
#    by another session): the terminal gets 91 in time and the switch
#    reverses the approval; a repeat of it then gets 91, not 00;
#  - an approval whose terminal left before the answer: reversed;
#  - PostgreSQL stopped: 91 within the deadline; started again: approvals
#    within 5 s, without restarting switchd;
#  - hsm-sim stopped: PIN transactions 91, others approved; restarted:
#    reconnected by itself.
#   faults_test.sh BUILD_BIN_DIR
set -euo pipefail
src=$(cd "$(dirname "$0")/../.." && pwd)
export SWITCH_PGDIR=$(cd "$1/.." && pwd)/pg-faults
"$src/scripts/db" start >/dev/null
. "$(dirname "$0")/lib.sh"
sw_setup "$1"
trap 'sw_cleanup; "$src/scripts/db" stop >/dev/null 2>&1 || true' EXIT
sw_start --set switch.txn_deadline_ms=1500 --set database.reconnect_max_ms=300 \
  --set hsm.reconnect_max_ms=300 --set hsm.timeout_ms=500
T=$(de7)
acct=100000011
held() { sql "select held_amount from accounts where number='$acct'"; }
held0=$(held)

# 1. Late approval: the account is locked until after the 91, the deadline
#    is 1.5 s.
lock_account "$DB" "$acct"
iso - --timeout 3 <<EOF2 || fail "late approval: terminal did not get 91 in time"
$(signon)
$(purchase 0200 000101 2500)
!expect MTI=0210 39=91 38=-
EOF2
# the switch's own time from request to answer (the client's includes its start-up)
us=$(grep 'stan=000101 .* rc=91 ' "$SW_LOG" | sed 's/.* us=//' | head -1)
[ -n "$us" ] && [ "$us" -lt 1700000 ] || fail "91 after ${us:-?} us (deadline 1500 ms)"
unlock_account
# authorise() got switchd's deadline and refuses to commit an approval
# after it (migration 025): rolled back, nothing held, logged or counted,
# and switchd has nothing to reverse.
for _ in $(seq 50); do grep -q "approval after the switch's deadline" "$SW_LOG" && break; sleep 0.1; done
grep -q "approval after the switch's deadline" "$SW_LOG" || fail "late approval: the database's refusal not logged"
[ "$(held)" = "$held0" ] || fail "late approval held: $(held) vs $held0"
[ "$(sql "select count(*) from auth_log where stan='000101' and msg_class='auth'")" = 0 ] \
  || fail "late approval committed: $(sql "select response_code, reversed_amount from auth_log where stan='000101'")"
[ "$(sql "select count(*) from daily_usage u join cards c on c.id = u.card_id where c.pan_masked = '453910******1107'")" = 0 ] \
  || fail "late approval counted in daily usage"
[ "$(metric switchd_late_reversals_total)" = 0 ] || fail "a late reversal for an approval that never committed"

# 1b. A terminal's reversal overtakes its original (pipelined on the same
# connection while the original waits for the locked account): it must
# wait for the original, not answer 25 and leave the approval standing.
lock_account "$DB" "$acct" 1
locker=$LOCKER
iso - --timeout 4 <<EOF2 || fail "reversal overtaking its original"
$(signon)
!send-only
$(purchase 0200 000150 3000)

!send-only
$(reversal 0420 000151 000150 3000)

!collect 2
!expect-all 39=00
EOF2
wait $locker
[ "$(sql "select reversed_amount from auth_log where stan='000150' and msg_class='auth'")" = 3000 ] \
  || fail "the overtaking reversal did not reverse its original"
[ "$(held)" = "$held0" ] || fail "held after original + reversal: $(held) vs $held0"

# 1c. The terminal repeats its reversal (0421) while the first copy is
# still waiting in the switch: the repeat waits for it rather than queue
# for the database again, and the original is reversed once.
lock_account "$DB" "$acct"
# released once the repeat has arrived (or after 10 s, and the check fails)
( for _ in $(seq 200); do grep -q "repeat of reversal stan=000161 waits" "$SW_LOG" && break; sleep 0.05; done
  unlock_account ) &
unlocker=$!
iso - --timeout 15 <<EOF2 || fail "reversal repeated while in flight"
$(signon)
!send-only
$(purchase 0200 000160 3000)

!send-only
$(reversal 0420 000161 000160 3000)

!send-only
$(reversal 0421 000161 000160 3000)

!collect 3
!expect-all 39=00
EOF2
wait $unlocker
grep -q "repeat of reversal stan=000161 waits for the first" "$SW_LOG" || fail "the repeat did not wait for the first copy"
[ "$(sql "select reversed_amount from auth_log where stan='000160' and msg_class='auth'")" = 3000 ] \
  || fail "reversed more or less than once: $(sql "select reversed_amount from auth_log where stan='000160'")"
[ "$(sql "select count(*) from auth_log where stan='000161' and msg_class='reversal'")" = 1 ] || fail "the repeat logged twice"
[ "$(held)" = "$held0" ] || fail "held after original + reversal + repeat: $(held) vs $held0"

# 2. The terminal leaves before its answer: the approval is reversed.
lock_account "$DB" "$acct"
iso - <<EOF2 || fail "send and leave"
$(signon)
!send-only
$(purchase 0200 000102 1200)
EOF2
unlock_account
for _ in $(seq 50); do [ "$(held)" = "$held0" ] && break; sleep 0.1; done
[ "$(held)" = "$held0" ] || fail "approval for a departed terminal still held"
[ "$(metric switchd_undelivered_answers_total)" -ge 1 ] || fail "undelivered answer not counted"

# 3. PostgreSQL stopped under the switch, then started again.
"$src/scripts/db" stop >/dev/null
iso - --timeout 3 <<EOF2 || fail "database down: no 91"
$(signon)
$(purchase 0200 000201 1000)
!expect 39=91
EOF2
healthz >/dev/null && fail "/healthz ok with the database down"
# a reversal advice cannot be recorded: no answer (any 0430 is the
# terminal's acknowledgement), so the terminal goes on repeating it
iso - --timeout 4 <<EOF2 || fail "database down: a reversal was acknowledged"
$(signon)
!send-only
$(reversal 0420 000202 000102 1200)
!no-answer
EOF2
grep -q 'mti=0420 stan=000202 not acknowledged' "$SW_LOG" || fail "the unacknowledged reversal not logged"
"$src/scripts/db" start >/dev/null
up=$(date +%s%N)
n=0 ok=
while [ $(( ($(date +%s%N) - up) / 1000000 )) -lt 5000 ]; do
  n=$((n + 1))
  if iso - --timeout 2 >/dev/null <<EOF2
$(signon POS00002)
$(purchase 0200 $(printf '%06d' $((300 + n))) 1000 POS00002 '' "$(printf '\n!expect 39=00')")
EOF2
  then ok=1; break; fi
  sleep 0.2
done
[ -n "$ok" ] || fail "no approval within 5 s of the database's return"
echo "database back: approvals again after $(( ($(date +%s%N) - up) / 1000000 )) ms"

# 4. hsm-sim stopped: a PIN purchase gets 91, a purchase without PIN goes on.
sql "select terminal_set_keys('POS00003', 'U0123456789ABCDEF0123456789ABCDEF0123456789ABCDEF', '000000', 'U0123456789ABCDEF0123456789ABCDEF0123456789ABCDEF', '000000')" >/dev/null
sql "update terminals set tak_key_id = null where terminal_id = 'POS00003'"
kill "$HSM_PID"; wait "$HSM_PID" 2>/dev/null || true
iso - --timeout 3 <<EOF2 || fail "HSM down"
$(signon POS00003)
$(purchase 0200 000401 1000 POS00003 '' '52=0123456789ABCDEF')
!expect 39=91

$(purchase 0200 000402 1000 POS00003)
!expect 39=00
EOF2
hsm_start   # same port
for _ in $(seq 50); do healthz >/dev/null && break; sleep 0.1; done
healthz >/dev/null || fail "HSM not reconnected"
# back: the (made-up) TPK is refused by the HSM, which answers again: 96, not 91
iso - --timeout 3 <<EOF2 || fail "HSM back"
$(signon POS00003)
$(purchase 0200 000403 1000 POS00003 '' '52=0123456789ABCDEF')
!expect 39=96
EOF2
grep -q "4539100000001107" "$SW_LOG" && fail "full PAN in the log"
echo ok
