#!/usr/bin/env bash
# `switchctl load demo --hsm` gets PIN data from a real hsm-sim: a PVK stored
# only under the LMK, a PVV per card that the HSM itself recomputes for the
# demo PIN (and not for another PIN); idempotent; HSM down -> one-line error.
#   demo_pin_test.sh SWITCHCTL HSM_SIM HSMCTL LMK
here=$(cd "$(dirname "$0")" && pwd)
. "$here/lib.sh"
SWITCHCTL=$1 HSMSIM=$2 HSMCTL=$3
tmp=$(mktemp -d)
cp "$4" "$tmp/lmk"; chmod 600 "$tmp/lmk"
"$HSMSIM" --lmk "$tmp/lmk" --port 0 --port-file "$tmp/port" 2>"$tmp/hsm.log" &
hsm=$!
cleanup() { kill $hsm 2>/dev/null || true; rm -rf "$tmp"; psql -X -q -d postgres -c "DROP DATABASE IF EXISTS $DB WITH (FORCE)" >/dev/null 2>&1 || true; }
db_setup "$SWITCHCTL"
trap cleanup EXIT
for _ in $(seq 100); do [ -s "$tmp/port" ] && break; sleep 0.05; done
port=$(cat "$tmp/port")
fail() { echo "FAIL: $*"; exit 1; }
export SWITCH_PAN_HMAC_KEY=00112233445566778899aabbccddeeff00112233445566778899aabbccddeeff
export SWITCH_PAN_ENC_KEY=ffeeddccbbaa99887766554433221100ffeeddccbbaa99887766554433221100

n=$(psql_t -At -c "select count(*) from cards where pin_method is null")
[ "$n" -gt 0 ] || fail "demo cards already had PIN data before --hsm"

# HSM not there: one-line error, non-zero exit, nothing written
if "$SWITCHCTL" --db "dbname=$DB" load demo --hsm 127.0.0.1:1 2>"$tmp/err" >/dev/null; then fail "unreachable HSM accepted"; fi
[ "$(wc -l <"$tmp/err")" = 1 ] || fail "error not one line: $(cat "$tmp/err")"
[ "$(psql_t -At -c "select count(*) from crypto_keys where kind='PVK'")" = 0 ] || fail "PVK stored without PVVs"

"$SWITCHCTL" --db "dbname=$DB" load demo --hsm "127.0.0.1:$port" >"$tmp/out" || fail "load demo --hsm"
grep -q "PIN data: $n demo cards" "$tmp/out" || fail "unexpected output: $(cat "$tmp/out")"
[ "$(psql_t -At -c "select count(*) from cards where pin_method is null")" = 0 ] || fail "cards left without PIN data"
[ "$(psql_t -At -c "select count(*) from cards where pin_method='pvv' and pvki=1 and pin_verify_data ~ '^[0-9]{4}$' and pvk_key_id is not null")" = "$n" ] || fail "PIN data malformed"

# The HSM recomputes each stored PVV from the demo PIN. A PVV has four
# digits, so about one other PIN in 10,000 gives it too: the PVK is drawn
# until the PINs the docs and tests use on demo cards (docs/switchctl.md)
# give pairwise different PVVs on every card, so a wrong one is wrong.
pvk=$(psql_t -At -c "select key_lmk from crypto_keys where kind='PVK'")
psql_t -At -F ' ' -c "select d.pan, c.pin_verify_data from demo_card_numbers d join cards c on c.id = d.card_id" >"$tmp/cards"
pvv_of() { "$HSMCTL" --port "$port" pvv --pvk "$pvk" --pan "$1" --pvki 1 --pin "$2" | sed -n 's/^pvv=//p;s/^value=//p'; }
while read -r pan pvv; do
  got=$(pvv_of "$pan" 1234)
  [ "$got" = "$pvv" ] || fail "stored PVV differs from the HSM's for the demo PIN"
  seen=" $pvv "
  for pin in 0000 1111 4321 5678 9876 9999; do
    other=$(pvv_of "$pan" $pin)
    [[ $other =~ ^[0-9]{4}$ ]] || fail "PVV of $pin: '$other'"
    [[ $seen != *" $other "* ]] || fail "PIN $pin gives a PVV another documented demo PIN gives too"
    seen="$seen$other "
  done
done <"$tmp/cards"
# Draws given up were rolled back: one PVK, installed (and audit-logged) once.
[ "$(psql_t -At -c "select count(*) from crypto_keys where kind='PVK'")" = 1 ] || fail "more than one PVK stored"

# Idempotent: a second run changes nothing.
"$SWITCHCTL" --db "dbname=$DB" load demo --hsm "127.0.0.1:$port" | grep -q "already have PIN data" || fail "second run"
[ "$(psql_t -At -c "select count(*) from crypto_keys where kind='PVK'")" = 1 ] || fail "second PVK created"
# Nothing secret in what the HSM logged.
! grep -qE '1234|9876' "$tmp/hsm.log" || fail "hsm-sim logged a PIN"
echo "ok: $n demo cards have HSM-issued PVVs"
