#!/usr/bin/env bash
# TLS on a route: switchd A forwards UnionPay cards (BIN 62128) to switchd B
# over TLS, B's peer listener requiring a client certificate from the
# bank's CA.
#  - the right certificates: the link comes up and a routed purchase is
#    approved and held at B;
#  - B shows a certificate of another CA, or A expects another name, or A
#    has no client certificate: the link stays down, A says why once, and
#    the terminal gets 91;
#  - tls without tls_ca: switchd refuses to start, in one line.
#   route_tls_test.sh BUILD_BIN_DIR
. "$(dirname "$0")/lib.sh"
sw_setup "$1"
make_pki b switch.other-bank.test a switch.our-bank.test

DB_B=${DB}_b
"$BIN/switchctl" --db "dbname=$DB_B" db init >/dev/null
"$BIN/switchctl" --db "dbname=$DB_B" load demo --hsm "127.0.0.1:$HSM_PORT" >/dev/null 2>&1
B_PORT=$(free_port) B_ADMIN=$(free_port) B_PID=
b_start() {  # b_start CERT KEY: switchd B, its peer listener on TLS with that certificate
  [ -n "$B_PID" ] && { kill "$B_PID"; wait "$B_PID" 2>/dev/null || true; }
  "$BIN/switchd" --set "listener net.address=127.0.0.1:$B_PORT" --set "listener net.require_signon=no" \
    --set "listener net.tls_cert=$TMP/$1" --set "listener net.tls_key=$TMP/$2" \
    --set "listener net.tls_ca=$TMP/ca.pem" --set "listener net.tls_client_cert=require" \
    --set "admin.address=127.0.0.1:$B_ADMIN" --set "hsm.address=127.0.0.1:$HSM_PORT" \
    --set "database.conninfo=dbname=$DB_B" 2>>"$TMP/switchd-b.log" &
  B_PID=$!
  for _ in $(seq 100); do curl -sf "http://127.0.0.1:$B_ADMIN/healthz" >/dev/null && return 0; sleep 0.05; done
  fail "switchd B not healthy"
}
trap '{ [ -n "$B_PID" ] && kill -9 $B_PID && wait $B_PID; } 2>/dev/null || true; psql -X -q -d postgres -c "DROP DATABASE IF EXISTS $DB_B WITH (FORCE)" >/dev/null 2>&1; sw_cleanup' EXIT

a_start() {  # a_start [more --set ...]: switchd A with a TLS route to B
  if [ -n "${SW_PID:-}" ]; then kill "$SW_PID"; wait "$SW_PID" 2>/dev/null || true; fi
  : >"$TMP/switchd.log"
  sw_start --set switch.txn_deadline_ms=2500 --set "route upi.bins=62128" \
    --set "route upi.address=127.0.0.1:$B_PORT" --set "route upi.timeout_ms=1000" \
    --set "route upi.tls=yes" --set "route upi.tls_ca=$TMP/ca.pem" "$@"
}
wait_log() { for _ in $(seq 50); do grep -q "$1" "$SW_LOG" && return 0; sleep 0.1; done; return 1; }

T=$(de7)
upi=6212800000007702
held() { psql -X -q -At -d "$DB_B" -c "select a.held_amount from accounts a join cards c on c.account_id = a.id
                                       where c.pan_masked = '621280******7702'"; }
stan=10
routed() {  # routed RC: a sign-on and a routed purchase of 10.00 that must get RC
  stan=$((stan + 2))
  iso - <<EOF2
$(signon POS00001 "$(printf %06d $((stan - 1)))")
$(purchase 0200 "$(printf %06d $stan)" 1000 POS00001 $upi)
!expect MTI=0210 39=$1
EOF2
}

# 1. Everything right: up over TLS, the purchase held at B.
b_start b.pem b.key
a_start --set "route upi.tls_cert=$TMP/a.pem" --set "route upi.tls_key=$TMP/a.key"
wait_log "route=upi up (127.0.0.1:$B_PORT, tls)" || fail "TLS route to B not up"
h0=$(held)
routed 00 || fail "routed purchase over TLS not approved"
[ "$(held)" = $((h0 + 1000)) ] || fail "routed purchase over TLS not held at B"

# 2. The name A expects is not in B's certificate.
a_start --set "route upi.tls_cert=$TMP/a.pem" --set "route upi.tls_key=$TMP/a.key" \
  --set "route upi.tls_server_name=switch.wrong-bank.test"
wait_log "route=upi cannot connect .*tls: .*certificate verify failed" || fail "wrong name: no reason logged"
routed 91 || fail "wrong name: the terminal did not get 91"
grep -q "route=upi up" "$SW_LOG" && fail "wrong name: the link came up"

# 3. A has no client certificate: B refuses it (with TLS 1.3 A learns it
#    only after its side of the handshake, so the link flaps: logged once).
a_start
wait_log "route=upi .*tls: .*certificate required" || fail "no client certificate: no reason logged"
routed 91 || fail "no client certificate: the terminal did not get 91"
sleep 1
[ "$(grep -c 'route=upi .*certificate required' "$SW_LOG")" = 1 ] || fail "a flapping link logged at every retry"

# 4. B shows a certificate of another CA (same name and IP).
b_start rogue.pem rogue.key
a_start --set "route upi.tls_cert=$TMP/a.pem" --set "route upi.tls_key=$TMP/a.key"
wait_log "route=upi cannot connect .*tls: .*certificate verify failed" || fail "rogue CA: no reason logged"
routed 91 || fail "rogue CA: the terminal did not get 91"
grep -q "route=upi up" "$SW_LOG" && fail "rogue CA: the link came up"
[ "$(grep -c 'route=upi cannot connect' "$SW_LOG")" = 1 ] || fail "the same failure logged at every retry"
[ "$(held)" = $((h0 + 1000)) ] || fail "something was held at B over a refused link"

# 5. tls without tls_ca: refused at start, in one line.
kill "$SW_PID"; wait "$SW_PID" 2>/dev/null || true; SW_PID=
out=$("$BIN/switchd" --set "listener atm.address=127.0.0.1:$(free_port)" --set "route upi.bins=62128" \
        --set "route upi.address=127.0.0.1:$B_PORT" --set "route upi.tls=yes" 2>&1) \
  && fail "switchd started with tls and no tls_ca"
grep -q "route upi: tls needs tls_ca" <<<"$out" || fail "no clear refusal: $out"
echo ok
