#!/usr/bin/env bash
# Terminal master keys from a key ceremony in a real hsm-sim:
# - `switchctl load demo --hsm` with hsm-sim not authorised loads PIN data,
#   warns in one line that the TMKs were not loaded, exits 0;
# - with hsm-sim --authorised every demo terminal gets the TMK of
#   schema/demo/terminal_tmks.txt: the stored KCV equals the one openssl
#   computes from the clear key, and the HSM recognises the stored
#   cryptogram as a TMK with that KCV; a second run changes nothing;
# - `switchctl terminal set-tmk` forms a TMK from components on stdin,
#   stores it (audit-logged, TPK/TAK cleared); bad input gives one line and a
#   non-zero exit and changes nothing; show/list print KCVs, never keys.
#   demo_tmk_test.sh SWITCHCTL HSM_SIM HSMCTL LMK TERMINAL_TMKS
here=$(cd "$(dirname "$0")" && pwd)
. "$here/lib.sh"
SWITCHCTL=$1 HSMSIM=$2 HSMCTL=$3 TMKS=$5
tmp=$(mktemp -d)
cp "$4" "$tmp/lmk"; chmod 600 "$tmp/lmk"
pids=()
start() { # NAME [hsm-sim options]
  "$HSMSIM" --lmk "$tmp/lmk" --port 0 --port-file "$tmp/$1.port" "${@:2}" </dev/null >/dev/null 2>"$tmp/$1.log" &
  pids+=($!)
}
start plain
start auth --authorised
cleanup() {
  for p in "${pids[@]}"; do kill "$p" 2>/dev/null || true; done
  rm -rf "$tmp"
  psql -X -q -d postgres -c "DROP DATABASE IF EXISTS $DB WITH (FORCE)" >/dev/null 2>&1 || true
}
db_setup "$SWITCHCTL"
trap cleanup EXIT
for _ in $(seq 100); do [ -s "$tmp/plain.port" ] && [ -s "$tmp/auth.port" ] && break; sleep 0.05; done
plain=127.0.0.1:$(cat "$tmp/plain.port") auth=127.0.0.1:$(cat "$tmp/auth.port")
fail() { echo "FAIL: $*"; exit 1; }
export SWITCH_PAN_HMAC_KEY=00112233445566778899aabbccddeeff00112233445566778899aabbccddeeff
export SWITCH_PAN_ENC_KEY=ffeeddccbbaa99887766554433221100ffeeddccbbaa99887766554433221100
sc() { "$SWITCHCTL" --db "dbname=$DB" "$@"; }
# KCV of a clear TDES key with openssl: the first 3 bytes of E(zeros).
kcv() {
  local c=-des-ede; [ ${#1} -eq 48 ] && c=-des-ede3
  printf '\0\0\0\0\0\0\0\0' | openssl enc "$c" -K "$1" -nopad | od -An -tx1 | tr -d ' \n' | cut -c1-6 | tr a-f A-F
}
snapshot() { psql_t -At -c "select string_agg(terminal_id || ':' || coalesce(tmk_key_id::text, '-') || ':' ||
  coalesce(tpk_key_id::text, '-'), ' ' order by terminal_id) || ' keys=' || (select count(*) from crypto_keys)
  || ' audit=' || (select count(*) from audit_log) from terminals"; }
one_line() { [ "$(wc -l <"$1")" -eq 1 ] || fail "$2: not one line: $(cat "$1")"; }

# 1. hsm-sim not authorised: PIN data, one warning, exit 0, no TMK.
sc load demo --hsm "$plain" >"$tmp/out" 2>"$tmp/err" || fail "load demo with a plain hsm-sim: exit $?: $(cat "$tmp/err")"
one_line "$tmp/err" "warning"
grep -q 'warning: demo terminal TMKs not loaded: hsm-sim is not in the authorised state' "$tmp/err" ||
  fail "warning: $(cat "$tmp/err")"
[ "$(psql_t -At -c "select count(*) from cards where pin_method is null")" = 0 ] || fail "PIN data not loaded"
[ "$(psql_t -At -c "select count(*) from terminals where tmk_key_id is not null")" = 0 ] || fail "TMK without authorisation"

# 2. Authorised: every listed demo terminal gets its TMK.
sc load demo --hsm "$auth" >"$tmp/out" 2>"$tmp/err" || fail "load demo --hsm authorised: $(cat "$tmp/err")"
[ ! -s "$tmp/err" ] || fail "stderr: $(cat "$tmp/err")"
n=0
while read -r tid key; do
  case $tid in '#'*|'') continue ;; esac
  n=$((n + 1))
  want=$(kcv "$key")
  row=$(psql_t -At -F ' ' -c "select k.kcv, k.key_lmk, k.kind from terminals t join crypto_keys k on k.id = t.tmk_key_id
                               where t.terminal_id = '$tid'")
  read -r got lmk kind <<<"$row"
  [ "$got" = "$want" ] || fail "$tid: stored KCV '$got', openssl $want"
  [ "$kind" = TMK ] || fail "$tid: key kind $kind"
  [ "$("$HSMCTL" --port "${auth##*:}" kcv tmk --key "$lmk")" = "kcv=$want" ] || fail "$tid: HSM's KCV of the stored TMK"
  grep -q "terminal $tid: TMK KCV $want" "$tmp/out" || fail "$tid: KCV not printed: $(cat "$tmp/out")"
  ! grep -q "$key" "$tmp/out" "$tmp/auth.log" || fail "$tid: clear TMK printed or logged"
done <"$TMKS"
[ "$n" -ge 6 ] || fail "only $n demo TMKs in $TMKS"
[ "$(psql_t -At -c "select count(*) from terminals where tmk_key_id is not null")" = "$n" ] || fail "TMK count"
[ "$(psql_t -At -c "select count(*) from audit_log where action = 'terminal_tmk'")" = "$n" ] || fail "audit log"

# 3. A second run changes nothing.
before=$(snapshot)
sc load demo --hsm "$auth" >"$tmp/out" 2>"$tmp/err" || fail "second run: $(cat "$tmp/err")"
grep -q 'demo terminals already have TMKs' "$tmp/out" || fail "second run said: $(cat "$tmp/out")"
[ "$(snapshot)" = "$before" ] || fail "second run changed keys: $before -> $(snapshot)"

# 4. terminal set-tmk: bad input is one line, non-zero, and changes nothing.
bad() { # EXPECTED-RC PATTERN INPUT ARGS...
  local rc=0 want=$1 pat=$2 in=$3; shift 3
  printf '%b' "$in" | sc terminal "$@" >"$tmp/out" 2>"$tmp/err" || rc=$?
  [ "$rc" -eq "$want" ] || fail "terminal $*: exit $rc, want $want: $(cat "$tmp/err")"
  one_line "$tmp/err" "terminal $*"
  grep -q "$pat" "$tmp/err" || fail "terminal $*: $(cat "$tmp/err")"
  ! grep -qE '0123|4567|89AB|F0E1' "$tmp/err" || fail "terminal $*: a component in the error"
  [ "$(snapshot)" = "$before" ] || fail "terminal $* changed keys"
}
bad 1 'component 1: not hexadecimal' '0123456789ABCDEFFEDCBA987654321X\n' set-tmk ATM00002 --hsm "$auth"
bad 1 'component 2: 31 hex digits, want 32' '0123456789ABCDEFFEDCBA9876543210\n0123456789ABCDEFFEDCBA987654321\n' \
  set-tmk ATM00002 --hsm "$auth"
k=0123456789ABCDEFFEDCBA9876543210
bad 1 'more than 3 components' "$k\n$k\n$k\n$k\n" set-tmk ATM00002 --hsm "$auth"
bad 1 'no key component' '' set-tmk ATM00002 --hsm "$auth"
bad 1 'hsm form TMK: error 27' '0123456789ABCDEF0123456789ABCDEF\n' set-tmk ATM00002 --hsm "$auth"
bad 1 'not in the authorised state' '0123456789ABCDEFFEDCBA9876543210\n' set-tmk ATM00002 --hsm "$plain"
bad 1 'no terminal ATM00099' '0123456789ABCDEFFEDCBA9876543210\n' set-tmk ATM00099 --hsm "$auth"
bad 1 'cannot connect' '0123456789ABCDEFFEDCBA9876543210\n' set-tmk ATM00002 --hsm 127.0.0.1:1
bad 2 'needs --hsm' '' set-tmk ATM00002
bad 2 'scheme must be U' '' set-tmk ATM00002 --hsm "$auth" --scheme P
bad 1 'no terminal XYZ' '' show XYZ

# 5. A key ceremony on a terminal that has working keys: two components.
tmk_lmk=$(psql_t -At -c "select k.key_lmk from terminals t join crypto_keys k on k.id = t.tmk_key_id where terminal_id = 'ATM00002'")
kx=$("$HSMCTL" --port "${auth##*:}" key-exchange --tmk "$tmk_lmk")
v() { sed -n "s/^$1=//p" <<<"$kx"; }
psql_t -c "select terminal_set_keys('ATM00002', '$(v tpk)', '$(v tpk_kcv)', '$(v tak)', '$(v tak_kcv)')" >/dev/null
sc terminal show ATM00002 | grep -q "TPK KCV   $(v tpk_kcv)" || fail "show: TPK KCV"
c1=F0E1D2C3B4A5968778695A4B3C2D1E0F c2=1C2D3E4F5A6B7C8D9EAFB0C1D2E3F405
x=; for ((i = 0; i < 32; i += 2)); do x+=$(printf '%02X' $((16#${c1:i:2} ^ 16#${c2:i:2}))); done
want=$(kcv "$x")
printf '%s\n%s\n' "$c1" "$c2" | sc terminal set-tmk ATM00002 --hsm "$auth" >"$tmp/out" 2>"$tmp/err" ||
  fail "set-tmk: $(cat "$tmp/err")"
grep -q "terminal ATM00002: TMK from 2 components, KCV $want" "$tmp/out" || fail "set-tmk said: $(cat "$tmp/out")"
row=$(psql_t -At -c "select k.kcv, t.tpk_key_id is null and t.tak_key_id is null from terminals t
                     join crypto_keys k on k.id = t.tmk_key_id where t.terminal_id = 'ATM00002'")
[ "$row" = "$want|t" ] || fail "stored after set-tmk: $row, want $want|t"
psql_t -At -c "select details->>'kcv' from audit_log where action = 'terminal_tmk' and object = 'terminal:ATM00002'
               order by id desc limit 1" | grep -qx "$want" || fail "set-tmk not audit-logged"
sc terminal show ATM00002 >"$tmp/out"
grep -q "TMK KCV   $want" "$tmp/out" && grep -q 'TPK KCV   none' "$tmp/out" && grep -q 'TAK KCV   none' "$tmp/out" ||
  fail "show: $(cat "$tmp/out")"
sc terminal list >"$tmp/out"
[ "$(wc -l <"$tmp/out")" = "$(psql_t -At -c 'select count(*) from terminals')" ] || fail "list: $(cat "$tmp/out")"
grep -q "^ATM00002 .* TMK $want " "$tmp/out" || fail "list: $(cat "$tmp/out")"
! grep -qE "$c1|$c2|$tmk_lmk" "$tmp/out" "$tmp/auth.log" "$tmp/plain.log" || fail "a component or key shown or logged"
# A PIN pad's AES DUKPT BDK by the same ceremony (set-bdk --scheme P).
b1=FEDCBA9876543210F1F1F1F1F1F1F1F1
bwant=$(printf '\0\0\0\0\0\0\0\0\0\0\0\0\0\0\0\0' | openssl enc -aes-128-ecb -K $b1 -nopad | od -An -tx1 |
        tr -d ' \n' | cut -c1-6 | tr a-f A-F)
echo $b1 | sc terminal set-bdk POS00002 --hsm "$auth" --scheme P >"$tmp/out" || fail "set-bdk: $(cat "$tmp/out")"
grep -q "BDK from 1 component, KCV $bwant" "$tmp/out" || fail "set-bdk said: $(cat "$tmp/out")"
sc terminal show POS00002 | grep -q "BDK KCV   .*, $bwant (AES DUKPT)" || fail "show: BDK KCV"
psql_t -At -c "select details->>'kcv' from audit_log where action = 'terminal_bdk' and object = 'terminal:POS00002'" |
  grep -qx "$bwant" || fail "set-bdk not audit-logged"
echo $b1 | sc terminal set-bdk POS00002 --hsm "$auth" --scheme X 2>"$tmp/err" && fail "bad BDK scheme accepted"
grep -q "scheme must be" "$tmp/err" || fail "bad BDK scheme: $(cat "$tmp/err")"

# load demo keeps the ceremony's TMK.
before=$(snapshot)
sc load demo --hsm "$auth" >/dev/null || fail "third run"
[ "$(snapshot)" = "$before" ] || fail "load demo replaced a TMK"
echo "ok: $n demo terminals have HSM-formed TMKs with the expected KCVs"
