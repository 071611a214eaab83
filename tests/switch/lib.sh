# Shared by the switchd integration tests: a fresh demo database (tests/db/lib.sh),
# a real hsm-sim and a real switchd on free ports, and the test terminal.
#   . lib.sh; sw_setup BUILD_BIN_DIR   then sw_start [--set ...], iso SCRIPT, sql ...
set -euo pipefail
here=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
src=$(cd "$here/../.." && pwd)
# shellcheck disable=SC1091
. "$src/tests/db/lib.sh"

export SWITCH_PAN_HMAC_KEY=00112233445566778899aabbccddeeff00112233445566778899aabbccddeeff
export SWITCH_PAN_ENC_KEY=ffeeddccbbaa99887766554433221100ffeeddccbbaa99887766554433221100

fail() { echo "FAIL: $*"; [ -n "${SW_LOG:-}" ] && [ -f "$SW_LOG" ] && tail -20 "$SW_LOG"; exit 1; }

free_port() { python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])'; }

sw_cleanup() {
  [ -n "${SW_PID:-}" ] && { kill -9 "$SW_PID"; wait "$SW_PID"; } 2>/dev/null || true
  [ -n "${HSM_PID:-}" ] && kill "$HSM_PID" 2>/dev/null || true
  [ -n "${DB:-}" ] && psql -X -q -d postgres -c "DROP DATABASE IF EXISTS $DB WITH (FORCE)" >/dev/null 2>&1 || true
  [ -n "${TMP:-}" ] && rm -rf "$TMP"
  return 0
}

# sw_setup BIN: database with the demo bank and its PIN data, hsm-sim.
sw_setup() {
  BIN=$1
  TMP=$(mktemp -d)
  export ISO8583_TOOL=$BIN/iso8583
  db_setup "$BIN/switchctl"
  trap sw_cleanup EXIT
  hsm_start
  "$BIN/switchctl" --db "dbname=$DB" load demo --hsm "127.0.0.1:$HSM_PORT" >/dev/null 2>"$TMP/load.err" \
    || fail "load demo --hsm: $(cat "$TMP/load.err")"
}

hsm_start() {
  cp "$src/tests/hsm/test.lmk" "$TMP/lmk"; chmod 600 "$TMP/lmk"
  local auth=
  "$BIN/hsm-sim" --help 2>&1 | grep -q -- --authorised && auth=--authorised
  rm -f "$TMP/hsm.port"
  "$BIN/hsm-sim" --lmk "$TMP/lmk" --port "${HSM_PORT:-0}" --port-file "$TMP/hsm.port" $auth 2>>"$TMP/hsm.log" &
  HSM_PID=$!
  for _ in $(seq 100); do [ -s "$TMP/hsm.port" ] && break; sleep 0.05; done
  [ -s "$TMP/hsm.port" ] || fail "hsm-sim did not start: $(cat "$TMP/hsm.log")"
  HSM_PORT=$(cat "$TMP/hsm.port")
}

# sw_start [--set S.K=V ...]: switchd with one ascii87 listener "atm" on
# $SW_PORT and the admin port on $ADMIN_PORT; waits until /healthz is ok.
sw_start() {
  SW_PORT=${SW_PORT:-$(free_port)}
  ADMIN_PORT=${ADMIN_PORT:-$(free_port)}
  SW_LOG=$TMP/switchd.log
  "$BIN/switchd" --set "listener atm.address=127.0.0.1:$SW_PORT" \
    --set "admin.address=127.0.0.1:$ADMIN_PORT" --set "hsm.address=127.0.0.1:$HSM_PORT" \
    --set "database.conninfo=dbname=$DB" --set "switch.pidfile=$TMP/switchd.pid" "$@" \
    2>>"$SW_LOG" &
  SW_PID=$!
  for _ in $(seq 100); do
    healthz >/dev/null 2>&1 && return 0
    kill -0 "$SW_PID" 2>/dev/null || fail "switchd exited at start-up: $(tail -5 "$SW_LOG")"
    sleep 0.05
  done
  fail "switchd not healthy after 5 s: $(healthz)"
}

healthz() { curl -sf "http://127.0.0.1:$ADMIN_PORT/healthz"; }
metric() { curl -s "http://127.0.0.1:$ADMIN_PORT/metrics" | awk -v m="$1" '$1 == m { print $2 }'; }

# iso SCRIPT [isoclient options]: SCRIPT is a file or "-" (here-document)
iso() {
  local f=$1; shift
  if [ "$f" = - ]; then f=$TMP/script.$RANDOM; cat >"$f"; fi
  python3 "$here/isoclient.py" --port "$SW_PORT" "$@" "$f"
}

sql() { psql -X -q -At -v ON_ERROR_STOP=1 -d "$DB" -c "$1"; }

# lock_row DB TABLE CONDITION [SECONDS]: another session holds TABLE's row
# (CONDITION picks it) locked FOR UPDATE for SECONDS (default: until
# unlock_row), in the background ($LOCKER); returns once it holds it.
lock_row() {
  local tag=locker_$RANDOM
  LOCK_DB=$1 LOCK_TAG=$tag
  psql -X -q -d "$1" -c "BEGIN; SELECT 1 FROM $2 WHERE $3 FOR UPDATE; SELECT pg_sleep(${4:-120}) /* $tag */; COMMIT;" >/dev/null 2>&1 &
  LOCKER=$!
  for _ in $(seq 250); do
    [ "$(psql -X -q -At -d "$1" -c "select count(*) from pg_stat_activity where query like '%$tag%'
          and wait_event = 'PgSleep' and pid <> pg_backend_pid()")" = 1 ] && return 0
    sleep 0.02
  done
  fail "the $2 row lock was not taken within 5 s"
}
# unlock_row: end the last lock_row now (its session is cancelled)
unlock_row() {
  psql -X -q -At -d "$LOCK_DB" -c "select pg_cancel_backend(pid) from pg_stat_activity
        where query like '%$LOCK_TAG%' and pid <> pg_backend_pid()" >/dev/null
  wait "$LOCKER" 2>/dev/null || true
}
# lock_account DB NUMBER [SECONDS], unlock_account: the account's row
lock_account() { lock_row "$1" accounts "number = '$2'" "${3:-120}"; }
unlock_account() { unlock_row; }

# make_pki SERVER NAME CLIENT CN: test certificates in $TMP: a CA (ca.pem),
# SERVER.pem/.key for NAME and 127.0.0.1 and CLIENT.pem/.key (CN) signed by
# it, and rogue.pem/.key for NAME and 127.0.0.1 too but self-signed.
make_pki() {
  ( cd "$TMP" &&
    openssl req -x509 -newkey rsa:2048 -nodes -keyout ca.key -out ca.pem -days 2 -subj /CN=bank-ca &&
    openssl req -newkey rsa:2048 -nodes -keyout "$1.key" -out "$1.csr" -subj "/CN=$2" &&
    printf 'subjectAltName=DNS:%s,IP:127.0.0.1\n' "$2" >"$1.ext" &&
    openssl x509 -req -in "$1.csr" -CA ca.pem -CAkey ca.key -CAcreateserial -out "$1.pem" -days 2 -extfile "$1.ext" &&
    openssl req -newkey rsa:2048 -nodes -keyout "$3.key" -out "$3.csr" -subj "/CN=$4" &&
    openssl x509 -req -in "$3.csr" -CA ca.pem -CAkey ca.key -CAcreateserial -out "$3.pem" -days 2 &&
    openssl req -x509 -newkey rsa:2048 -nodes -keyout rogue.key -out rogue.pem -days 2 \
      -subj "/CN=$2" -addext "subjectAltName=DNS:$2,IP:127.0.0.1" ) \
    >/dev/null 2>&1 || fail "cannot make test certificates"
}

# DE 7 values unique per run, so repeated runs never collide on the duplicate key
de7() { date -u +%m%d%H%M%S; }

# Messages for isoclient scripts; $T is the test's DE 7.
# purchase MTI STAN AMOUNT [TID] [PAN] [extra lines]: a POS purchase
purchase() {
  printf 'MTI=%s\n2=%s\n3=000000\n4=%012d\n7=%s\n11=%s\n14=3011\n32=00000000001\n41=%s\n42=MER000000000001\n49=840\n%s' \
    "$1" "${5:-4539100000001107}" "$3" "$T" "$2" "${4:-POS00001}" "${6:-}"
}
# reversal MTI STAN ORIG_STAN AMOUNT [TID] [PAN]: an 0420/0421 reversing this
# run's 0200 ORIG_STAN (DE 90 with $T)
reversal() {
  printf 'MTI=%s\n2=%s\n3=000000\n4=%012d\n7=%s\n11=%s\n32=00000000001\n41=%s\n49=840\n90=0200%s%s0000000000100000000000\n' \
    "$1" "${6:-4539100000001107}" "$4" "$T" "$2" "${5:-POS00001}" "$3" "$T"
}
# signon [TID] [STAN]: a sign-on that must be approved
signon() { printf 'MTI=0800\n7=%s\n11=%s\n41=%s\n70=001\n!expect 39=00\n\n' "$T" "${2:-000000}" "${1:-POS00001}"; }
