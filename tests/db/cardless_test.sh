#!/usr/bin/env bash
# Cardless cash with a real hsm-sim: `switchctl cardless send` moves the money
# to the voucher suspense account and prints a code that hsm-sim verifies
# (DA) as a format-0 PIN block under an ATM's TPK with the reference as the
# PAN, against the offset the database keeps (voucher_lookup); the database,
# audit log and every other output hold nothing of the code; hsm-sim's
# verdicts drive voucher_redeem (wrong codes lock at the limit, one
# redemption, then 14); expiry returns the money once; refusals (51, 62, 13)
# and bad command lines are one line each and change nothing.
#   cardless_test.sh SWITCHCTL HSM_SIM HSMCTL LMK TERMINAL_TMKS
here=$(cd "$(dirname "$0")" && pwd)
. "$here/lib.sh"
SWITCHCTL=$1 HSMSIM=$2 HSMCTL=$3 TMKS=$5
tmp=$(mktemp -d)
cp "$4" "$tmp/lmk"; chmod 600 "$tmp/lmk"
# Authorised: load demo forms the demo terminals' TMKs (public test keys).
"$HSMSIM" --lmk "$tmp/lmk" --port 0 --port-file "$tmp/port" --authorised </dev/null >/dev/null 2>"$tmp/hsm.log" &
hsm_pid=$!
cleanup() {
  kill "$hsm_pid" 2>/dev/null || true
  rm -rf "$tmp"
  psql -X -q -d postgres -c "DROP DATABASE IF EXISTS $DB WITH (FORCE)" >/dev/null 2>&1 || true
}
db_setup "$SWITCHCTL"
trap cleanup EXIT
for _ in $(seq 100); do [ -s "$tmp/port" ] && break; sleep 0.05; done
port=$(cat "$tmp/port") hsm=127.0.0.1:$(cat "$tmp/port")
fail() { echo "FAIL: $*"; exit 1; }
export SWITCH_PAN_HMAC_KEY=00112233445566778899aabbccddeeff00112233445566778899aabbccddeeff
export SWITCH_PAN_ENC_KEY=ffeeddccbbaa99887766554433221100ffeeddccbbaa99887766554433221100
# Everything switchctl prints, on both streams, is kept in $tmp/all to
# check at the end that a code appears only in its own send line.
sc() {
  local rc=0
  "$SWITCHCTL" --db "dbname=$DB" "$@" >"$tmp/out" 2>"$tmp/err" || rc=$?
  cat "$tmp/out" "$tmp/err" >>"$tmp/all"
  return $rc
}
q() { psql_t -At -c "$1"; }
one_line() { [ "$(wc -l <"$tmp/err")" -eq 1 ] || fail "$1: not one line: $(cat "$tmp/err")"; }
ledger() { q "select ledger_balance from accounts where number = '$1'"; }
snapshot() { q "select (select count(*) from cardless_vouchers) || ' ' || (select count(*) from journal_lines) || ' ' ||
  (select count(*) from audit_log) || ' ' || (select count(*) from crypto_keys)"; }

sc load demo --hsm "$hsm" || fail "load demo --hsm: $(cat "$tmp/err")"
sender=100000011 suspense=GL-VOUCHER_SUSPENSE-USD atmcash=GL-ATMCASH-ATM00001-USD
s0=$(ledger $sender) v0=$(ledger $suspense)

# 1. Bad command lines: exit 2, one line, nothing done (no HSM asked either).
before=$(snapshot)
bad() { # PATTERN ARGS...
  local rc=0 pat=$1; shift
  sc "$@" || rc=$?
  [ "$rc" -eq 2 ] || fail "$*: exit $rc, want 2: $(cat "$tmp/err")"
  one_line "$*"
  grep -q -- "$pat" "$tmp/err" || fail "$*: $(cat "$tmp/err")"
}
bad 'missing subcommand' cardless
bad "unknown subcommand 'give'" cardless give
bad 'missing --account' cardless send --amount 1 --phone +85512345678 --hsm "$hsm"
bad "amount like 50.00, got '1.234'" cardless send --account $sender --amount 1.234 --phone +85512345678 --hsm "$hsm"
bad "amount like 50.00, got '-5'" cardless send --account $sender --amount -5 --phone +85512345678 --hsm "$hsm"
bad "amount like 50.00, got ''" cardless send --account $sender --phone +85512345678 --hsm "$hsm"
bad 'currency must be USD or KHR' cardless send --account $sender --amount 1 --currency EUR --phone +85512345678 --hsm "$hsm"
bad "international number like +85512345678, got '012345678'" cardless send --account $sender --amount 1 --phone 012345678 --hsm "$hsm"
SWITCH_HSM='' bad 'needs --hsm' cardless send --account $sender --amount 1 --phone +85512345678
bad "unexpected argument '--code'" cardless send --account $sender --amount 1 --phone +85512345678 --code 1
bad "status must be active" cardless list --status open
bad "unexpected argument 'now'" cardless expire now
bad '--now wants a timestamp' cardless expire --now yesterday-ish
[ "$(snapshot)" = "$before" ] || fail "a bad command line changed something"
sc cardless --help && grep -q '^usage: switchctl cardless send' "$tmp/out" || fail "cardless --help"

# 2. Refusals: one line, exit 1, nothing stored (not even the voucher PVK).
refused() { # PATTERN ARGS...
  local rc=0 pat=$1; shift
  sc cardless send --phone +85512345678 --hsm "$hsm" "$@" || rc=$?
  [ "$rc" -eq 1 ] || fail "send $*: exit $rc, want 1"
  one_line "send $*"
  grep -q -- "$pat" "$tmp/err" || fail "send $*: $(cat "$tmp/err")"
  [ ! -s "$tmp/out" ] || fail "send $*: printed $(cat "$tmp/out")"
  [ "$(snapshot)" = "$before" ] || fail "send $*: changed something"
}
refused 'insufficient funds in account 100000011 (51)' --account $sender --amount 5000.01
refused "currency KHR is not the account's (USD) (13)" --account $sender --amount 5 --currency KHR
refused 'bad amount (13)' --account $sender --amount 0
refused 'account GL-FEE_INCOME-USD is not an active customer account (62)' --account GL-FEE_INCOME-USD --amount 5
refused 'no account 999999999' --account 999999999 --amount 5
q "update accounts set status = 'frozen' where number = '100000021'" >/dev/null
refused 'account 100000021 is not an active customer account (62)' --account 100000021 --amount 5
refused 'cannot connect' --account $sender --amount 5 --hsm 127.0.0.1:1

# 3. Send: the line, the ledger, the voucher PVK made on first use.
send() { # AMOUNT -> sets ref code exp
  sc cardless send --account $sender --amount "$1" --phone +85512345678 --hsm "$hsm" || fail "send $1: $(cat "$tmp/err")"
  [ ! -s "$tmp/err" ] || fail "send $1: stderr $(cat "$tmp/err")"
  local re='^voucher ([0-9]{16}): USD ([0-9.]+) for \+85512345678, code ([0-9]{8}) \(give it to the recipient; it is not stored and cannot be shown again\), expires ([0-9-]{10})$'
  [[ "$(cat "$tmp/out")" =~ $re ]] || fail "send $1 printed: $(cat "$tmp/out")"
  ref=${BASH_REMATCH[1]} code=${BASH_REMATCH[3]} exp=${BASH_REMATCH[4]}
  [ "${BASH_REMATCH[2]}" = "$1" ] || fail "amount printed ${BASH_REMATCH[2]}, want $1"
  codes+=("$code")
}
codes=()
send 50.00; ref1=$ref code1=$code
[ "$exp" = "$(q "select to_char((now() + interval '30 days') at time zone 'Asia/Phnom_Penh', 'YYYY-MM-DD')")" ] ||
  fail "expiry printed $exp"
# The reference is Luhn-valid (it stands in for a PAN).
sum=0; for ((i = 0; i < 16; i++)); do d=${ref1:15-i:1}; ((i % 2)) && { d=$((d * 2)); ((d > 9)) && d=$((d - 9)); }; sum=$((sum + d)); done
((sum % 10 == 0)) || fail "reference $ref1 is not Luhn-valid"
[ "$(ledger $sender)" = $((s0 - 5000)) ] || fail "sender ledger $(ledger $sender), want $((s0 - 5000))"
[ "$(ledger $suspense)" = $((v0 + 5000)) ] || fail "suspense ledger $(ledger $suspense), want $((v0 + 5000))"
[ "$(q "select count(*) from crypto_keys where kind = 'PVK' and label = 'voucher-pvk'")" = 1 ] || fail "voucher PVK"
[ "$(q "select count(*) from audit_log where action = 'key_install' and details->>'label' = 'voucher-pvk'")" = 1 ] ||
  fail "voucher PVK install not audit-logged"
[ "$(q "select count(*) from audit_log where action = 'voucher_create' and object = 'voucher:$ref1'")" = 1 ] ||
  fail "send not audit-logged"
send 30.00; ref2=$ref code2=$code
send 20.00; ref3=$ref code3=$code
[ "$(q "select count(*) from crypto_keys where label = 'voucher-pvk'")" = 1 ] || fail "PVK made twice"
[ "$(q "select count(distinct pvk_key_id) from cardless_vouchers")" = 1 ] || fail "vouchers under different PVKs"
[ "$code1" != "$code2" ] && [ "$ref1" != "$ref2" ] || fail "the same code or reference twice"

# 4. The offset in the database is not the code; nothing of the code is in
#    the database (a full dump), and hsm-sim logged none of it.
for i in 1 2 3; do
  r=ref$i c=code$i
  off=$(q "select code_offset from voucher_lookup('${!r}')")
  [[ "$off" =~ ^[0-9]{8}$ ]] || fail "offset '$off'"
  [ "$off" != "${!c}" ] || fail "the offset is the code"
done
pg_dump -d "$DB" >"$tmp/dump"
for c in "${codes[@]}"; do ! grep -q "$c" "$tmp/dump" "$tmp/hsm.log" || fail "a code is in the database or the HSM log"; done

# 5. The printed code verifies in hsm-sim like a PIN (DA): a format-0 PIN
#    block of the code, the reference as PAN, under ATM00001's TPK from a
#    key change under its demo TMK (public test key, so the block can be made
#    here as the PIN pad would).
tmk_clear=$(awk '$1 == "ATM00001" { print $2 }' "$TMKS")
tmk_lmk=$(q "select k.key_lmk from terminals t join crypto_keys k on k.id = t.tmk_key_id where t.terminal_id = 'ATM00001'")
kx=$("$HSMCTL" --port "$port" key-exchange --tmk "$tmk_lmk") || fail "key exchange"
tpk_lmk=$(sed -n 's/^tpk=//p' <<<"$kx")
tpk_clear=$(sed -n 's/^tpk_under_tmk=//p' <<<"$kx" | xxd -r -p | openssl enc -d -des-ede -K "$tmk_clear" -nopad | xxd -p -c 64)
[ ${#tpk_clear} -eq 32 ] || fail "TPK under TMK could not be read"
pin_block() { # CODE REFERENCE
  local pin="08$1FFFFFF" pan="0000${2:3:12}" x= i
  for ((i = 0; i < 16; i += 2)); do x+=$(printf '%02X' $((16#${pin:i:2} ^ 16#${pan:i:2}))); done
  xxd -r -p <<<"$x" | openssl enc -des-ede -K "$tpk_clear" -nopad | xxd -p -c 64 | tr a-f A-F
}
# switchd's part: voucher_lookup, then DA with the reference's validation data.
verdict() { # CODE REFERENCE -> true/false (what switchd passes as p_code_ok)
  local row off pvk val="${2:4:11}FFFFF" rc=0
  row=$(q "select code_offset || ' ' || pvk_lmk from voucher_lookup('$2')")
  read -r off pvk <<<"$row"
  "$HSMCTL" --port "$port" verify-offset --tpk "$tpk_lmk" --pvk "$pvk" --pin-block "$(pin_block "$1" "$2")" \
    --pan "$2" --dectab 0123456789012345 --valdata "$val" --offset "$off" >/dev/null 2>"$tmp/da" || rc=$?
  case $rc in 0) echo true ;; 1) grep -q 'HSM error 01' "$tmp/da" || fail "DA: $(cat "$tmp/da")"; echo false ;;
    *) fail "DA exit $rc: $(cat "$tmp/da")" ;; esac
}
[ "$(verdict "$code1" "$ref1")" = true ] || fail "the printed code does not verify in hsm-sim"
wrong=$(printf '%08d' $(((10#$code1 + 1) % 100000000)))
[ "$(verdict "$wrong" "$ref1")" = false ] || fail "another code verifies"
[ "$(verdict "$code2" "$ref1")" = false ] || fail "voucher 2's code verifies for voucher 1"

# 6. Redemption with the HSM's verdicts, as switchd will do it.
q "create sequence test_stan start 600000" >/dev/null
redeem() { # CODE REFERENCE AMOUNT -> response code; a fresh STAN each time
  q "select response_code from voucher_redeem('00000000001', 'ATM00001', nextval('test_stan')::text, '1123101500', '$2',
     $(verdict "$1" "$2"), $3, 840::smallint)"
}
a0=$(ledger $atmcash)
[ "$(redeem "$wrong" "$ref1" 5000)" = 55 ] || fail "wrong code"
[ "$(redeem "$code1" "$ref1" 5000)" = 00 ] || fail "right code not redeemed"
[ "$(ledger $atmcash)" = $((a0 + 5000)) ] || fail "ATM cash ledger $(ledger $atmcash), want $((a0 + 5000))"
[ "$(ledger $suspense)" = $((v0 + 5000 + 3000 + 2000 - 5000)) ] || fail "suspense after redemption"
[ "$(redeem "$code1" "$ref1" 5000)" = 14 ] || fail "second redemption"
# Wrong codes lock voucher 2 at the limit (3); then even its code gets 75.
[ "$(redeem "$wrong" "$ref2" 3000)" = 55 ] || fail "wrong 1"
[ "$(redeem "$code1" "$ref2" 3000)" = 55 ] || fail "wrong 2"
[ "$(redeem "$wrong" "$ref2" 3000)" = 75 ] || fail "wrong 3 does not lock"
[ "$(redeem "$code2" "$ref2" 3000)" = 75 ] || fail "locked voucher redeemed"
[ "$(q "select status || ' ' || tries from cardless_vouchers where reference = '$ref2'")" = 'locked 3' ] || fail "not locked"

# 7. list: what an operator sees, never an offset.
sc cardless list || fail "list"
[ "$(wc -l <"$tmp/out")" = 3 ] || fail "list: $(cat "$tmp/out")"
grep -q "^$ref1  USD        50.00  redeemed   tries 1 " "$tmp/out" || fail "list: $(cat "$tmp/out")"
grep -q "^$ref2  USD        30.00  locked     tries 3 .* account $sender\$" "$tmp/out" || fail "list: $(cat "$tmp/out")"
for o in $(q "select code_offset from cardless_vouchers"); do ! grep -q "$o" "$tmp/out" || fail "list shows an offset"; done
sc cardless list --status active --account $sender && [ "$(cut -c1-16 "$tmp/out")" = "$ref3" ] || fail "list --status"
sc cardless list --account 100000012 && grep -qx 'no vouchers' "$tmp/out" || fail "list of another account"

# 8. Expiry gives the money back exactly once (the locked and the active one).
s1=$(ledger $sender)
later=$(q "select (now() + interval '31 days')::text")
sc cardless expire || fail "expire"
grep -qx 'vouchers expired (money returned to the senders): 0' "$tmp/out" || fail "expire now: $(cat "$tmp/out")"
sc cardless expire --now "$later" || fail "expire later"
grep -qx 'vouchers expired (money returned to the senders): 2' "$tmp/out" || fail "expire: $(cat "$tmp/out")"
sc cardless expire --now "$later" || fail "expire again"
grep -qx 'vouchers expired (money returned to the senders): 0' "$tmp/out" || fail "expire twice: $(cat "$tmp/out")"
[ "$(ledger $sender)" = $((s1 + 3000 + 2000)) ] || fail "sender after expiry $(ledger $sender), want $((s1 + 5000))"
[ "$(ledger $suspense)" = "$v0" ] || fail "suspense not back to $v0: $(ledger $suspense)"
[ "$(redeem "$code3" "$ref3" 2000)" = 54 ] || fail "expired voucher"

# 9. Each code was printed exactly once, in its send line, and is nowhere
#    else: not in the audit log, not in the database, not in hsm-sim's log.
for c in "${codes[@]}"; do
  [ "$(grep -c "$c" "$tmp/all")" = 1 ] || fail "a code printed $(grep -c "$c" "$tmp/all") times"
  grep "$c" "$tmp/all" | grep -q '^voucher [0-9]\{16\}: USD' || fail "a code printed outside its send line"
done
pg_dump -d "$DB" >"$tmp/dump"
for c in "${codes[@]}"; do ! grep -q "$c" "$tmp/dump" "$tmp/hsm.log" || fail "a code reached the database or the HSM log"; done
echo "ok: 3 vouchers, codes verified by hsm-sim, redeemed once, locked, expired once"
