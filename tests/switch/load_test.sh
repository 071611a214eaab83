#!/usr/bin/env bash
# switchd with many terminals and through a graceful stop:
#  - 1,000 concurrent connections, each signing on and sending a purchase:
#    every one answered, every purchase approved and held exactly once;
#  - SIGTERM with purchases in flight (held up by a locked account row):
#    new connections are refused, every purchase in flight gets its answer,
#    switchd exits 0 and removes its pid file.
#   load_test.sh BUILD_BIN_DIR
. "$(dirname "$0")/lib.sh"
sw_setup "$1"
sw_start --set switch.txn_deadline_ms=5000 --set database.pool_size=4
T=$(de7)
template() { # the message of the here-document, as hex, STAN 999999
  "$BIN/iso8583" encode --framing none --hex
}
signon_hex=$(template <<EOF2
MTI=0800
7=$T
11=999999
41=POS00001
70=001
EOF2
)
buy_hex=$(template <<EOF2
MTI=0200
2=4539100000004408
3=000000
4=000000000100
7=$T
11=999999
14=3011
32=00000000001
41=POS00001
42=MER000000000001
49=840
EOF2
)
python3 "$here/loadclient.py" --port "$SW_PORT" --conns 1000 --hold --out "$TMP/signon.out" "$signon_hex" \
  || fail "1,000 connections signing on"
[ "$("$BIN/iso8583" decode "$TMP/signon.out" | grep -c 'DE 39.* 00$')" = 1000 ] || fail "not every sign-on approved"
# purchases from 1,000 terminals at once need sign-on on each connection;
# with require_signon off on a second listener they go straight in.
kill "$SW_PID"; wait "$SW_PID" || fail "switchd exit status after SIGTERM: $?"
SW_PORT=$(free_port)
# The deadline is far enough for the graceful stop below: its 20 purchases
# wait on a locked account until the stop, and under CI's load (beside
# switchd_hostile) the 20 clients can take longer than 8 s to be all in.
sw_start --set switch.txn_deadline_ms=60000 --set "listener atm.require_signon=no"
acct=$(sql "select a.number from cards c join accounts a on a.id = c.account_id where c.id = 7")
held0=$(sql "select held_amount from accounts where number='$acct'")
python3 "$here/loadclient.py" --port "$SW_PORT" --conns 1000 --hold --out "$TMP/buy.out" "$buy_hex" \
  || fail "1,000 concurrent purchases"
# One card, 1,000 purchases at once: exactly its product's purchases per
# day are approved (the database serialises them on the card), the rest
# declined 65, and the holds add up to the approvals.
limit=$(sql "select pv.daily_purchase_count from cards c join product_versions pv on pv.product_id = c.product_id
             where c.id = 7 order by pv.effective_from desc limit 1")
"$BIN/iso8583" decode "$TMP/buy.out" | awk '$1 == "DE" && $2 == 39 { print $NF }' | sort | uniq -c >"$TMP/rcs"
ok=$(awk '$2 == "00" { print $1 }' "$TMP/rcs")
[ "$ok" = "$limit" ] || fail "approved ${ok:-0} of 1,000, the card allows $limit: $(cat "$TMP/rcs")"
[ "$(awk '$2 == "65" { print $1 }' "$TMP/rcs")" = $((1000 - limit)) ] || fail "declines not all 65: $(cat "$TMP/rcs")"
[ "$(sql "select held_amount from accounts where number='$acct'")" = $((held0 + 100 * limit)) ] \
  || fail "holds: $(sql "select held_amount from accounts where number='$acct'") vs $held0 + 100 x $limit"
echo "1,000 connections: $(metric switchd_connections_accepted_total) accepted"

# Graceful stop with 20 purchases in flight.
lock_account "$DB" "$acct"
buy2_hex=$(echo "$buy_hex" | sed "s/$(printf '%s' "$T" | xxd -p)/$(printf '%s' "$(date -u -d '+1 sec' +%m%d%H%M%S)" | xxd -p)/")
python3 "$here/loadclient.py" --port "$SW_PORT" --conns 20 --out "$TMP/stop.out" "$buy2_hex" >"$TMP/stop.txt" &
client=$!
# (up to 30 s: under the sanitizers, beside switchd_hostile's 10,000
# connections, the 20 clients may take a while to connect and send)
for _ in $(seq 600); do [ "$(metric switchd_inflight)" = 20 ] && break; sleep 0.05; done
[ "$(metric switchd_inflight)" = 20 ] || fail "purchases not in flight: $(metric switchd_inflight)"
kill -TERM "$SW_PID"
sleep 0.3
python3 -c "import socket,sys; s=socket.socket(); sys.exit(0 if s.connect_ex(('127.0.0.1',$SW_PORT)) else 1)" \
  || fail "still accepting connections after SIGTERM"
unlock_account
wait $client || fail "purchases in flight at SIGTERM not all answered: $(cat "$TMP/stop.txt")"
# every one decided by the database (its limit is spent: 65), none 91/96
[ "$("$BIN/iso8583" decode "$TMP/stop.out" | grep -c 'DE 39.* 65$')" = 20 ] || fail "in-flight purchases not decided"
wait "$SW_PID" || fail "switchd exit status $? after a graceful stop"
SW_PID=
[ -e "$TMP/switchd.pid" ] && fail "pid file left behind"
grep -q "no new connections or messages; finishing 20 in flight" "$SW_LOG" || fail "shutdown not logged"
echo ok
