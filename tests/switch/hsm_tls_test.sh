#!/usr/bin/env bash
# TLS between switchd and hsm-sim, hsm-sim requiring client certificates
# from the bank's CA. A key change (0800/101: the HSM makes the TPK and
# TAK) shows whether switchd can use the HSM:
#  - the right CA and client certificate, no name (the certificate must
#    carry the address's IP): 00;
#  - hsm-sim's certificate from another CA, a name it does not carry, or no
#    client certificate: the link is refused, the key change gets 91;
#  - [hsm] tls without tls_ca: switchd refuses to start, in one line.
#   hsm_tls_test.sh BUILD_BIN_DIR
. "$(dirname "$0")/lib.sh"
sw_setup "$1"
make_pki hsm hsm.bank.test sw switchd.bank.test

TLS_HSM_PID=
tls_hsm() {  # tls_hsm CERT KEY: a second hsm-sim (same LMK) on TLS, client certificates required
  [ -n "$TLS_HSM_PID" ] && { kill "$TLS_HSM_PID"; wait "$TLS_HSM_PID" 2>/dev/null || true; }
  rm -f "$TMP/tlshsm.port"
  "$BIN/hsm-sim" --lmk "$TMP/lmk" --port "${TLS_HSM_PORT:-0}" --port-file "$TMP/tlshsm.port" \
    --tls-cert "$TMP/$1" --tls-key "$TMP/$2" --tls-ca "$TMP/ca.pem" 2>>"$TMP/tlshsm.log" &
  TLS_HSM_PID=$!
  for _ in $(seq 100); do [ -s "$TMP/tlshsm.port" ] && break; sleep 0.05; done
  [ -s "$TMP/tlshsm.port" ] || fail "TLS hsm-sim did not start: $(cat "$TMP/tlshsm.log")"
  TLS_HSM_PORT=$(cat "$TMP/tlshsm.port")
}
trap '{ [ -n "$TLS_HSM_PID" ] && kill "$TLS_HSM_PID" && wait "$TLS_HSM_PID"; } 2>/dev/null || true; sw_cleanup' EXIT

sw_restart() {  # switchd on the TLS hsm-sim, with these [hsm] settings
  if [ -n "${SW_PID:-}" ]; then kill "$SW_PID"; wait "$SW_PID" 2>/dev/null || true; fi
  SW_PORT=${SW_PORT:-$(free_port)} ADMIN_PORT=${ADMIN_PORT:-$(free_port)} SW_LOG=$TMP/switchd.log
  "$BIN/switchd" --set "listener atm.address=127.0.0.1:$SW_PORT" --set "admin.address=127.0.0.1:$ADMIN_PORT" \
    --set "database.conninfo=dbname=$DB" --set "hsm.address=127.0.0.1:$TLS_HSM_PORT" --set hsm.tls=yes \
    --set hsm.timeout_ms=500 --set hsm.reconnect_max_ms=300 "$@" 2>>"$SW_LOG" &
  SW_PID=$!
  # /healthz answers 503 while the HSM link is down: wait for any answer
  for _ in $(seq 100); do
    [ -n "$(curl -s -o /dev/null -w '%{http_code}' "http://127.0.0.1:$ADMIN_PORT/healthz" | grep -v '^000$')" ] && break
    kill -0 "$SW_PID" 2>/dev/null || fail "switchd exited at start-up: $(tail -5 "$SW_LOG")"
    sleep 0.05
  done
  sleep 1
}
T=$(de7)
stan=100
keychange() {  # keychange RC
  stan=$((stan + 2))
  iso - <<EOF2
$(signon POS00002 "$(printf %06d $((stan - 1)))")
MTI=0800
7=$T
11=$(printf %06d $stan)
41=POS00002
70=101
!expect 39=$1
EOF2
}
client=(--set "hsm.tls_cert=$TMP/sw.pem" --set "hsm.tls_key=$TMP/sw.key")

tls_hsm hsm.pem hsm.key
sw_restart --set "hsm.tls_ca=$TMP/ca.pem" "${client[@]}"
keychange 00 || fail "key change over TLS to hsm-sim (IP checked) refused"
sw_restart --set "hsm.tls_ca=$TMP/ca.pem" --set hsm.tls_server_name=hsm.bank.test "${client[@]}"
keychange 00 || fail "key change over TLS to hsm-sim (name checked) refused"

sw_restart --set "hsm.tls_ca=$TMP/ca.pem" --set hsm.tls_server_name=hsm.other.test "${client[@]}"
keychange 91 || fail "a name hsm-sim's certificate does not carry was accepted"
sw_restart --set "hsm.tls_ca=$TMP/ca.pem"
keychange 91 || fail "switchd without a client certificate was served"

tls_hsm rogue.pem rogue.key
sw_restart --set "hsm.tls_ca=$TMP/ca.pem" "${client[@]}"
keychange 91 || fail "hsm-sim with a certificate of another CA was trusted"

kill "$SW_PID"; wait "$SW_PID" 2>/dev/null || true; SW_PID=
out=$("$BIN/switchd" --set "listener atm.address=127.0.0.1:$(free_port)" \
        --set "hsm.address=127.0.0.1:$TLS_HSM_PORT" --set hsm.tls=yes 2>&1) \
  && fail "switchd started with [hsm] tls and no tls_ca"
grep -q "tls needs tls_ca" <<<"$out" || fail "no clear refusal: $out"
echo ok
