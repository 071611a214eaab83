#!/usr/bin/env bash
# Operator commands on cards and holds: stop-payment add/list/remove by card
# id and by PAN (audit rows; a repeat and a missing one are one-line errors
# that change nothing; a stopped merchant's recurring charge answers 57 and
# again 00 once lifted), card pin-reset (audit-logged, 75 lifted), holds
# expire (idempotent), and bad command lines: exit 2, one line.
#   card_ops_test.sh SWITCHCTL
here=$(cd "$(dirname "$0")" && pwd)
. "$here/lib.sh"
db_setup "$1"
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"; psql -X -q -d postgres -c "DROP DATABASE IF EXISTS $DB WITH (FORCE)" >/dev/null 2>&1 || true' EXIT
export SWITCH_PAN_HMAC_KEY=00112233445566778899aabbccddeeff00112233445566778899aabbccddeeff
fail() { echo "FAIL: $*"; exit 1; }
sc() { "$SWITCHCTL" --db "dbname=$DB" "$@" >"$tmp/out" 2>"$tmp/err"; }
q() { psql_t -At -c "$1"; }
one_line() { [ "$(wc -l <"$tmp/err")" -eq 1 ] || fail "$1: not one line: $(cat "$tmp/err")"; }
expect() { # RC PATTERN ARGS...: exit status RC, one line on stderr matching PATTERN
  local rc=0 want=$1 pat=$2; shift 2
  sc "$@" || rc=$?
  [ "$rc" -eq "$want" ] || fail "$*: exit $rc, want $want: $(cat "$tmp/err")"
  one_line "$*"
  grep -q -- "$pat" "$tmp/err" || fail "$*: $(cat "$tmp/err")"
}
state() { q "select (select count(*) from stop_payments) || '/' || (select count(*) from stop_payments where lifted_at is null)
  || '/' || (select count(*) from audit_log) || '/' || (select sum(pin_tries) from cards)"; }
card=2 merchant=MER000000000004
pan=$(q "select pan from demo_card_numbers where card_id = $card")
q "create sequence test_stan start 300000" >/dev/null
stan="nextval('test_stan')::text"   # a fresh STAN per message, also inside a command substitution
recurring() { # -> the answer to a recurring charge from $merchant on $card
  q "select response_code from authorise('purchase', '00000000002', 'ECOM0001', $stan, '1123101500',
     (select pan_hash from cards where id = $card), 999, 840::smallint, '$merchant', NULL, NULL, NULL, NULL, NULL, NULL, true)"
}

# 1. Bad command lines: exit 2, one line, nothing changed.
before=$(state)
expect 2 'missing subcommand' stop-payment
expect 2 "unknown subcommand 'stop'" stop-payment stop $card --merchant $merchant
expect 2 "merchant's id (DE 42, 1-15 characters), got ''" stop-payment add $card
expect 2 "merchant's id (DE 42, 1-15 characters), got '1234567890123456'" stop-payment add $card --merchant 1234567890123456
expect 2 'by its id or by --pan' stop-payment add --merchant $merchant
expect 2 'by its id or by --pan' stop-payment add $card --pan "$pan" --merchant $merchant
expect 2 'card id must be a number' stop-payment list 2x
expect 2 "unexpected argument '--reason'" stop-payment remove $card --merchant $merchant --reason why
expect 2 "unexpected argument '--merchant'" stop-payment list $card --merchant $merchant
expect 2 'missing subcommand (expire)' holds
expect 2 "unknown subcommand 'release'" holds release
expect 2 "unexpected argument '--all'" holds expire --all
expect 2 '--now wants a timestamp' holds expire --now 'next tuesday'
expect 2 'card id must be a number' card pin-reset 2x
[ "$(state)" = "$before" ] || fail "a bad command line changed something"
for c in "stop-payment" "holds" "cardless" "card"; do
  sc $c --help && grep -q '^usage: switchctl' "$tmp/out" || fail "$c --help"
done

# 2. stop-payment add, by id: recurring charges from the merchant get 57.
[ "$(recurring)" = 00 ] || fail "charge before the stop-payment"
sc stop-payment add $card --merchant $merchant --reason "customer called" || fail "add: $(cat "$tmp/err")"
grep -q "^card $card: stop-payment [0-9]* on merchant $merchant: its recurring charges are declined (57)\$" "$tmp/out" ||
  fail "add printed: $(cat "$tmp/out")"
[ "$(recurring)" = 57 ] || fail "charge after the stop-payment"
row=$(q "select operator = session_user, details->>'merchant', details->>'reason' from audit_log
         where action = 'stop_payment_add' and object = 'card:$card'")
[ "$row" = "t|$merchant|customer called" ] || fail "add audit row: $row"
# A repeat is an error that changes nothing, by id and by PAN.
before=$(state)
expect 1 "card $card already has an active stop-payment for merchant $merchant" stop-payment add $card --merchant $merchant
expect 1 "already has an active stop-payment" stop-payment add --pan "$pan" --merchant $merchant
expect 1 'no card 999' stop-payment add 999 --merchant $merchant
expect 1 'no such card' stop-payment add --pan 4000000000000002 --merchant $merchant
expect 1 'no card 999' stop-payment list 999
[ "$(state)" = "$before" ] || fail "a refused command changed something"
! grep -q "$pan" "$tmp/err" || fail "a PAN in an error"

# 3. list, by PAN: masked, the active stop-payment with its reason.
sc stop-payment list --pan "$pan" || fail "list: $(cat "$tmp/err")"
head -1 "$tmp/out" | grep -q "^card $card  [0-9]\{6\}\*\{6\}[0-9]\{4\}\$" || fail "list header: $(cat "$tmp/out")"
grep -q "^  $merchant  active  since .*, reason: customer called\$" "$tmp/out" || fail "list: $(cat "$tmp/out")"
! grep -q "$pan" "$tmp/out" || fail "list shows the PAN"

# 4. remove: lifted (audit row), charges accepted again; a second remove fails.
sc stop-payment remove --pan "$pan" --merchant $merchant || fail "remove: $(cat "$tmp/err")"
grep -qx "card $card: stop-payment on merchant $merchant lifted" "$tmp/out" || fail "remove printed: $(cat "$tmp/out")"
[ "$(q "select count(*) from stop_payments where card_id = $card and lifted_at is not null")" = 1 ] || fail "lifted_at"
[ "$(q "select count(*) from audit_log where action = 'stop_payment_remove' and object = 'card:$card'")" = 1 ] ||
  fail "remove not audit-logged"
[ "$(recurring)" = 00 ] || fail "charge after lifting"
before=$(state)
expect 1 "card $card has no active stop-payment for merchant $merchant" stop-payment remove $card --merchant $merchant
[ "$(state)" = "$before" ] || fail "a failed remove changed something"
sc stop-payment list $card && grep -q "^  $merchant  lifted  since .*, lifted " "$tmp/out" || fail "list after remove: $(cat "$tmp/out")"
sc stop-payment list 3 && grep -qx '  no stop-payments' "$tmp/out" || fail "empty list: $(cat "$tmp/out")"
# Added again after lifting: a new one.
sc stop-payment add $card --merchant $merchant || fail "add after lifting: $(cat "$tmp/err")"
[ "$(q "select count(*) from stop_payments where card_id = $card")" = 2 ] || fail "second stop-payment"

# 5. card pin-reset: 75 until reset, audit-logged.
q "update cards set pin_tries = 3 where id = $card" >/dev/null
[ "$(q "select response_code from authorise('cash', '00000000001', 'ATM00001', $stan, '1123101500',
      (select pan_hash from cards where id = $card), 1000, 840::smallint, NULL, NULL, NULL, NULL, NULL, NULL, 'ok')")" = 75 ] ||
  fail "tries exhausted"
sc card pin-reset --pan "$pan" || fail "pin-reset: $(cat "$tmp/err")"
grep -q 'PIN      .*, 0 wrong tries' "$tmp/out" || fail "pin-reset printed: $(cat "$tmp/out")"
[ "$(q "select count(*) from audit_log where action = 'pin_reset' and object = 'card:$card'")" = 1 ] || fail "pin-reset audit"
[ "$(q "select response_code from authorise('cash', '00000000001', 'ATM00001', $stan, '1123101500',
      (select pan_hash from cards where id = $card), 1000, 840::smallint, NULL, NULL, NULL, NULL, NULL, NULL, 'ok')")" = 00 ] ||
  fail "after pin-reset"
expect 1 'no card 999' card pin-reset 999

# 6. holds expire: a POS purchase holds; released once after 32 days.
[ "$(q "select response_code from authorise('purchase', '00000000001', 'POS00001', $stan, '1123101500',
      (select pan_hash from cards where id = $card), 2500, 840::smallint)")" = 00 ] || fail "purchase"
held=$(q "select count(*) from holds where status = 'active'")
[ "$held" -ge 1 ] || fail "no active hold"
later=$(q "select (now() + interval '33 days')::text")
sc holds expire && grep -qx 'holds expired (released): 0' "$tmp/out" || fail "holds expire now: $(cat "$tmp/out")"
sc holds expire --now "$later" && grep -qx "holds expired (released): $held" "$tmp/out" || fail "holds expire: $(cat "$tmp/out")"
sc holds expire --now "$later" && grep -qx 'holds expired (released): 0' "$tmp/out" || fail "holds expire twice: $(cat "$tmp/out")"
[ "$(q "select sum(held_amount) from accounts")" = 0 ] || fail "something still held"
echo "ok: stop-payments, pin-reset, holds expire"
