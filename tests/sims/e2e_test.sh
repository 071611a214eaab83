#!/usr/bin/env bash
# atm-sim against the real switchd, hsm-sim and PostgreSQL (pg fixture):
#   e2e_test.sh ATM_SIM SWITCHD SWITCHCTL HSM_SIM LMK_FORM LMK TMK_FILE SCRIPT_DIR
# A fresh database with the demo bank and HSM-issued PIN data; the demo
# TMKs are formed under the test LMK and set on the terminals; switchd gets
# an ascii87/bin2 and a binary87/ascii4 listener on free ports.
here=$(cd "$(dirname "$0")" && pwd)
. "$here/../db/lib.sh"
ATMSIM=$1 SWITCHD=$2 SWITCHCTL=$3 HSMSIM=$4 LMKFORM=$5 TMKS=$7 SCRIPTS=$8
tmp=$(mktemp -d)
cp "$6" "$tmp/lmk"; chmod 600 "$tmp/lmk"
pids=()
cleanup() {
  for p in "${pids[@]}"; do kill -CONT "$p" 2>/dev/null; kill "$p" 2>/dev/null || true; done
  wait 2>/dev/null
  psql -X -q -d postgres -c "DROP DATABASE IF EXISTS $DB WITH (FORCE)" >/dev/null 2>&1 || true
  rm -rf "$tmp"
}
fail() { echo "FAIL: $*"; [ -f "$tmp/switchd.log" ] && tail -20 "$tmp/switchd.log"; exit 1; }
free_port() { python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])'; }

db_setup "$SWITCHCTL"
trap cleanup EXIT
export SWITCH_PAN_HMAC_KEY=00112233445566778899aabbccddeeff00112233445566778899aabbccddeeff
export SWITCH_PAN_ENC_KEY=ffeeddccbbaa99887766554433221100ffeeddccbbaa99887766554433221100

"$HSMSIM" --lmk "$tmp/lmk" --port 0 --port-file "$tmp/hsm.port" 2>"$tmp/hsm.log" & pids+=($!)
for _ in $(seq 100); do [ -s "$tmp/hsm.port" ] && break; sleep 0.05; done
hport=$(cat "$tmp/hsm.port")
"$SWITCHCTL" --db "dbname=$DB" load demo --hsm "127.0.0.1:$hport" >/dev/null || fail "load demo --hsm"
grep -v '^#' "$TMKS" | while read -r tid key; do
  [ -n "$tid" ] || continue
  read -r lmkform kcv < <("$LMKFORM" "$tmp/lmk" 004 "$key")
  psql_t -At -c "SELECT terminal_set_tmk('$tid', '$lmkform', '$kcv')" >/dev/null
done

# A CA and a server certificate for localhost, for the TLS listener.
( cd "$tmp" && openssl req -x509 -newkey rsa:2048 -nodes -keyout ca.key -out ca.pem -days 2 -subj /CN=test-ca &&
  openssl req -newkey rsa:2048 -nodes -keyout srv.key -out srv.csr -subj /CN=localhost &&
  printf 'subjectAltName=DNS:localhost\n' >ext &&
  openssl x509 -req -in srv.csr -CA ca.pem -CAkey ca.key -CAcreateserial -out srv.pem -days 2 -extfile ext ) \
  >/dev/null 2>&1 || fail "cannot make test certificates"

pa=$(free_port) pb=$(free_port) pt=$(free_port) padm=$(free_port)
cat >"$tmp/switchd.conf" <<CONF
[switch]
pidfile = $tmp/switchd.pid
log_level = info
txn_deadline_ms = 3000
[database]
conninfo = dbname=$DB
pool_size = 2
[hsm]
address = 127.0.0.1:$hport
[admin]
address = 127.0.0.1:$padm
[listener a]
address = 127.0.0.1:$pa
profile = ascii87
framing = bin2
require_signon = yes
[listener b]
address = 127.0.0.1:$pb
profile = binary87
framing = ascii4
require_signon = yes
[listener t]
address = 127.0.0.1:$pt
profile = ascii87
framing = bin2
require_signon = yes
tls_cert = $tmp/srv.pem
tls_key = $tmp/srv.key
CONF
"$SWITCHD" -c "$tmp/switchd.conf" 2>"$tmp/switchd.log" & sw=$!; pids+=($sw)
up=
for _ in $(seq 100); do
  (exec 3<>/dev/tcp/127.0.0.1/$pa) 2>/dev/null && { up=1; break; }
  sleep 0.05
done
[ -n "$up" ] || fail "switchd did not start"

atm() { "$ATMSIM" --tmk-file "$TMKS" "$@"; }

atm --port "$pa" --script "$SCRIPTS/session.txt" >"$tmp/out1" || { cat "$tmp/out1"; fail "session.txt"; }
atm --port "$pb" --profile binary87 --framing ascii4 --terminal ATM00002 \
    --script "$SCRIPTS/hostile.txt" >"$tmp/out2" || { cat "$tmp/out2"; fail "hostile.txt"; }

# TLS: the server certificate is checked against the CA and the name.
atm --port "$pt" --host localhost --tls --tls-ca "$tmp/ca.pem" --terminal ATM00003 \
    --script "$SCRIPTS/balance.txt" >"$tmp/out5" || { cat "$tmp/out5"; fail "balance over TLS"; }
if atm --port "$pt" --host localhost --tls --script "$SCRIPTS/balance.txt" 2>"$tmp/err" >/dev/null; then
  fail "TLS without the test CA accepted"
fi
grep -q "certificate" "$tmp/err" || fail "TLS failure not explained: $(cat "$tmp/err")"

# Nothing secret on the terminal's output or in the switch's log.
! grep -qE '4539100000001107|5274100000006607|1234 ' "$tmp/out1" "$tmp/out2" || fail "clear PAN or PIN printed"
! grep -q '4539100000001107' "$tmp/switchd.log" || fail "switchd logged a clear PAN"

# Time-out: the switch stops answering during the withdrawal; the ATM
# reverses it, and once the switch runs again the account is as before.
atm --port "$pa" --terminal ATM00003 --timeout 700 --script "$SCRIPTS/timeout.txt" >"$tmp/out3" &
atmpid=$!
sleep 1.2
kill -STOP "$sw"
wait $atmpid || { kill -CONT "$sw"; cat "$tmp/out3"; fail "timeout.txt"; }
kill -CONT "$sw"
grep -qE 'withdraw .* rc=timeout reversal=unacknowledged sends=4 ' "$tmp/out3" || { cat "$tmp/out3"; fail "no 0420 + 3 x 0421"; }
before=$(grep -oE 'ledger=USD[-0-9.]+' "$tmp/out3" | head -1)
sleep 1
atm --port "$pa" --terminal ATM00003 --script "$SCRIPTS/balance.txt" >"$tmp/out4" || fail "balance after time-out"
after=$(grep -oE 'ledger=USD[-0-9.]+' "$tmp/out4" | head -1)
[ -n "$before" ] && [ "$before" = "$after" ] || fail "ledger $before before the timed-out withdrawal, $after after"

# A bad script is refused before anything is sent.
printf 'signon\nwithdraw visa-classic 20\n' >"$tmp/bad.txt"
if atm --port "$pa" --script "$tmp/bad.txt" 2>"$tmp/err" >/dev/null; then fail "bad script accepted"; fi
[ "$(cat "$tmp/err")" = "atm-sim: $tmp/bad.txt:2: amount \"20\": want major units with two decimals, e.g. 20.00" ] || fail "bad script: $(cat "$tmp/err")"
cat "$tmp/out1" "$tmp/out2" "$tmp/out3" "$tmp/out4" "$tmp/out5"
echo "ok: atm-sim scripts against switchd"
