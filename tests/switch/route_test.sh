#!/usr/bin/env bash
# Routing by BIN: switchd A sends UnionPay cards (BIN 62128) to switchd B,
# another institution with its own database, and keeps the others.
#  - a routed purchase is approved by B: the hold is in B's database, not A's;
#  - a Visa purchase stays with A;
#  - B does not answer in time (its account row locked): the terminal gets
#    91 from A within the route's timeout, and A reverses the purchase at B
#    by itself (repeating while B answers 25, the original still in flight
#    there), so nothing stays held at B.
#   route_test.sh BUILD_BIN_DIR
. "$(dirname "$0")/lib.sh"
sw_setup "$1"
DB_A=$DB
# Institution B: a database of its own, its own switchd.
DB_B=${DB}_b
"$BIN/switchctl" --db "dbname=$DB_B" db init >/dev/null
"$BIN/switchctl" --db "dbname=$DB_B" load demo --hsm "127.0.0.1:$HSM_PORT" >/dev/null 2>&1
B_PORT=$(free_port) B_ADMIN=$(free_port)
"$BIN/switchd" --set "listener net.address=127.0.0.1:$B_PORT" --set "listener net.require_signon=no" \
  --set "admin.address=127.0.0.1:$B_ADMIN" --set "hsm.address=127.0.0.1:$HSM_PORT" \
  --set "database.conninfo=dbname=$DB_B" 2>"$TMP/switchd-b.log" &
B_PID=$!
trap '{ kill -9 $B_PID; wait $B_PID; } 2>/dev/null || true; psql -X -q -d postgres -c "DROP DATABASE IF EXISTS $DB_B WITH (FORCE)" >/dev/null 2>&1; sw_cleanup' EXIT
for _ in $(seq 100); do curl -sf "http://127.0.0.1:$B_ADMIN/healthz" >/dev/null && break; sleep 0.05; done

sw_start --set switch.txn_deadline_ms=2500 --set "route upi.bins=62128" \
  --set "route upi.address=127.0.0.1:$B_PORT" --set "route upi.timeout_ms=1000"
for _ in $(seq 50); do grep -q "route=upi up" "$SW_LOG" && break; sleep 0.1; done
grep -q "route=upi up" "$SW_LOG" || fail "route to B not up"

T=$(de7)
upi=6212800000007702
held() { psql -X -q -At -d "$1" -c "select a.held_amount from accounts a join cards c on c.account_id = a.id
                                      where c.pan_masked = '${2:0:6}******${2: -4}'"; }
a0=$(held "$DB_A" $upi) b0=$(held "$DB_B" $upi)
iso - <<EOF2 || fail "routed and local purchases"
MTI=0800
7=$T
11=000001
41=POS00001
70=001
!expect 39=00

$(purchase 0200 000002 1000 POS00001 $upi)
!expect MTI=0210 39=00 38=? 11=000002

$(purchase 0200 000003 500 POS00001 4539100000001107)
!expect 39=00
EOF2
[ "$(held "$DB_B" $upi)" = $((b0 + 1000)) ] || fail "routed purchase not held at B"
[ "$(held "$DB_A" $upi)" = "$a0" ] || fail "routed purchase held at A too"
[ "$(sql "select count(*) from auth_log where stan = '000003'")" = 1 ] || fail "local purchase not decided by A"
[ "$(sql "select count(*) from auth_log where stan = '000002' and msg_class <> 'local'")" = 0 ] || fail "routed purchase decided by A"
# ... but A's log shows what the terminal got, and from whom
for _ in $(seq 50); do [ "$(sql "select response_code || ' ' || rule from auth_log where stan = '000002'")" = "00 upstream_upi" ] && break; sleep 0.1; done
[ "$(sql "select response_code || ' ' || rule from auth_log where stan = '000002'")" = "00 upstream_upi" ] \
  || fail "routed purchase not in A's authorisation log as local: $(sql "select msg_class, response_code, rule from auth_log where stan = '000002'")"

# B stalls: its account row is locked until the 91; the route's timeout is 1 s.
acct_b=$(psql -X -q -At -d "$DB_B" -c "select a.number from accounts a join cards c on c.account_id = a.id
                                        where c.pan_masked = '621280******7702'")
lock_account "$DB_B" "$acct_b"
iso - --timeout 3 <<EOF2 || fail "stalled issuer: no 91"
MTI=0800
7=$T
11=000004
41=POS00001
70=001

$(purchase 0200 000005 2000 POS00001 $upi)
!expect 39=91
EOF2
us=$(grep 'stan=000005 .* rc=91 ' "$SW_LOG" | sed 's/.* us=//' | head -1)
[ -n "$us" ] && [ "$us" -lt 1500000 ] || fail "91 after ${us:-?} us (route timeout 1000 ms)"
unlock_account
for _ in $(seq 150); do [ "$(held "$DB_B" $upi)" = $((b0 + 1000)) ] && break; sleep 0.1; done
[ "$(held "$DB_B" $upi)" = $((b0 + 1000)) ] || fail "timed-out purchase still held at B: $(held "$DB_B" $upi)"
grep -q "reversal of stan=.* answered 00" "$SW_LOG" || fail "A's reversal not confirmed by B"
echo ok
