#!/usr/bin/env bash
# A TLS listener that requires client certificates: a terminal with a
# certificate from the bank's CA is served; one without a certificate, with
# a certificate from another CA, or speaking plain TCP is not. Two switchd
# processes share one port (SO_REUSEPORT) and both take connections.
#   tls_test.sh BUILD_BIN_DIR
. "$(dirname "$0")/lib.sh"
sw_setup "$1"
make_pki srv localhost atm ATM00001
TLS_PORT=$(free_port)
sw_start --set switch.message_timeout_ms=1000 \
  --set "listener tls.address=127.0.0.1:$TLS_PORT" --set "listener tls.tls_cert=$TMP/srv.pem" \
  --set "listener tls.tls_key=$TMP/srv.key" --set "listener tls.tls_ca=$TMP/ca.pem" \
  --set "listener tls.tls_client_cert=require"
T=$(de7)
echo_msg() { printf 'MTI=0800\n7=%s\n11=000001\n70=301\n!expect 39=00\n' "$T"; }
echo_msg >"$TMP/echo.txt"
tls() { python3 "$here/isoclient.py" --port "$TLS_PORT" --timeout 3 --tls-ca "$TMP/ca.pem" "$@" "$TMP/echo.txt"; }

tls --tls-cert "$TMP/atm.pem" --tls-key "$TMP/atm.key" || fail "terminal with the bank's certificate refused"
tls >/dev/null 2>&1 && fail "terminal without a certificate served"
tls --tls-cert "$TMP/rogue.pem" --tls-key "$TMP/rogue.key" >/dev/null 2>&1 && fail "certificate of another CA accepted"
python3 "$here/isoclient.py" --port "$TLS_PORT" --timeout 3 "$TMP/echo.txt" >/dev/null 2>&1 \
  && fail "plain TCP served on the TLS listener"
grep -q "conn_close.*tls: " "$SW_LOG" || fail "TLS refusals not logged"

# SO_REUSEPORT: a second switchd on the same ports; connections reach both.
first=$SW_PID first_admin=$ADMIN_PORT
ADMIN_PORT=$(free_port)
sw_start --set "listener tls.address=127.0.0.1:$TLS_PORT" --set "listener tls.tls_cert=$TMP/srv.pem" \
  --set "listener tls.tls_key=$TMP/srv.key" --set "switch.pidfile=$TMP/switchd2.pid"
second_admin=$ADMIN_PORT
for i in $(seq 20); do iso "$TMP/echo.txt" >/dev/null || fail "echo $i on the shared port"; done
a=$(curl -s "http://127.0.0.1:$first_admin/metrics" | awk '$1 == "switchd_connections_accepted_total" { print $2 }')
b=$(metric switchd_connections_accepted_total)
echo "shared port: first process took $a connections, second $b"
[ "$b" -gt 0 ] && [ "$a" -gt 4 ] || fail "connections not spread over both processes ($a, $b)"
kill "$first"; wait "$first" 2>/dev/null || true
echo ok
