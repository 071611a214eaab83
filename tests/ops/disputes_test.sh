#!/usr/bin/env bash
# switchctl dispute against a real database: transactions made by the
# schema's own authorise() and reverse(); disputes and error claims opened
# by card + RRN, by --pan + approval code and by authorisation-log id; the
# 15-day rule for disputes (not for error claims), the 30/90-day deadlines
# and the overdue list at other instants; refusals (declined, refund,
# reversal, unknown, ambiguous, already open, own terminal chargeback,
# credit above what the transaction took less what came back, resolving
# twice) with their exit codes and nothing changed; credits with exact
# balances from the chargeback receivable or the dispute loss account; the
# status history, audit_log, retention; the ledger's invariants; no PAN.
#   disputes_test.sh SWITCHCTL
here=$(cd "$(dirname "$0")" && pwd)
. "$here/lib.sh"
ops_setup "$1"

# The demo cards this test uses (fail loudly if the demo changes).
eq "$(q "select string_agg(c.id || ':' || p.code || ':' || a.number, ' ' order by c.id) from cards c
         join products p on p.id = c.product_id join accounts a on a.id = c.account_id where c.id in (2, 4, 6, 8)")" \
   "2:VISA_CLASSIC:100000011 4:VISA_BUSINESS:100000021 6:VISA_PLATINUM_LITE:100000031 8:MC_STANDARD:100000051" \
   "demo cards"
auth() { # STAN TYPE ACQUIRER TERMINAL CARD AMOUNT RRN -> "RC AUTH_ID APPROVAL"
  local pin=NULL
  [ "$2" = cash ] && pin="'ok'"
  q "select (r).response_code || ' ' || (r).auth_id || ' ' || coalesce((r).approval_code, '-') from (select authorise(
       '$2', '$3', '$4', '$1', '1124101500', (select pan_hash from cards where id = $5), $6,
       840::smallint, p_merchant_id => 'MER000000000009', p_rrn => '$7', p_pin_result => $pin) r) x"
}
approved() { local a; a=$(auth "$@"); [ "${a%% *}" = 00 ] || fail "authorise $*: $a"; set -- $a; echo "$2 $3"; }
own=00000000001 other=00000000002

# T1: a purchase at another bank's POS (held); T2: cash at another bank's
# ATM, 40.00 + the 5.00 fee, of which the ATM dispensed 20.00 (a partial
# reversal gives 20.00 back, the fee stays); T3: cash at our own ATM,
# posted at once; T4 declined; T5 a refund; T6 and T7 two purchases with
# one RRN.
read -r t1 _ <<<"$(approved 000101 purchase $other OTHPOS01 4 2500 600000000001)"
read -r t2 ap2 <<<"$(approved 000102 cash $other OTHATM01 8 4000 600000000002)"
rev=$(q "select (r).response_code || ' ' || (r).auth_id from (select reverse('$other', 'OTHATM01', '000103',
         '1124101600', '000102', '1124101500', 2000) r) x")
[ "${rev%% *}" = 00 ] || fail "partial reversal: $rev"
t2rev=${rev##* }
read -r t3 _ <<<"$(approved 000104 cash $own ATM00001 2 10000 600000000003)"
t4=$(auth 000105 purchase $own POS00001 6 99999999 600000000004)
[ "${t4%% *}" = 61 ] || fail "T4 should be declined (61): $t4"
t4=$(echo "$t4" | cut -d' ' -f2)
read -r t5 _ <<<"$(approved 000106 refund $own POS00001 6 1000 600000000005)"
read -r t6 _ <<<"$(approved 000107 purchase $own POS00001 6 1200 600000000009)"
read -r t7 _ <<<"$(approved 000108 purchase $own POS00002 6 1300 600000000009)"
pan8=$(q "select pan from demo_card_numbers where card_id = 8")
l4=$(ledger 100000021) l8=$(ledger 100000051) l2=$(ledger 100000011)
eq "$l2" 490000 "own ATM cash posted"
invariants "the transactions"

# 1. Bad command lines: exit 2, one line, nothing changed.
before=$(state)
expect 2 'missing subcommand' dispute
expect 2 "unknown subcommand 'close'" dispute close 1
expect 2 "--kind wants dispute or error-claim, got ''" dispute open --auth "$t1" --reason x
expect 2 "--kind wants dispute or error-claim, got 'claim'" dispute open --auth "$t1" --kind claim --reason x
expect 2 'missing --reason' dispute open --auth "$t1" --kind dispute
expect 2 'not both' dispute open --auth "$t1" 4 --rrn 600000000001 --kind dispute --reason x
expect 2 'one of --rrn and --approval' dispute open 4 --kind dispute --reason x
expect 2 'one of --rrn and --approval' dispute open 4 --rrn 1 --approval 2 --kind dispute --reason x
expect 2 "--auth wants the authorisation-log id \(a number\), got '1x'" dispute open --auth 1x --kind dispute --reason x
expect 2 'card id must be a number' dispute open 4x --rrn 600000000001 --kind dispute --reason x
expect 2 "unexpected argument '--credit'" dispute open --auth "$t1" --kind dispute --reason x --credit 1
expect 2 "wants the dispute's id \(a number\), got 'one'" dispute show one
expect 2 "wants the dispute's id \(a number\), got ''" dispute resolve --accept --reason x
expect 2 'say --accept or --reject' dispute resolve 1 --reason x
expect 2 '--accept and --reject exclude each other' dispute resolve 1 --accept --reject --reason x
expect 2 'missing --reason' dispute resolve 1 --accept
expect 2 '--credit and --chargeback go with --accept' dispute resolve 1 --reject --credit 5 --reason x
expect 2 '--credit and --chargeback go with --accept' dispute resolve 1 --reject --chargeback --reason x
expect 2 "--credit wants an amount like 25.00, got '1.234'" dispute resolve 1 --accept --credit 1.234 --reason x
expect 2 "--credit wants an amount like 25.00, got '-5'" dispute resolve 1 --accept --credit -5 --reason x
expect 2 'exclude each other' dispute list --all --overdue
expect 2 "--now wants a timestamp .*, got 'soon'" dispute list --overdue --now soon
expect 2 "unexpected argument '--note'" dispute review --note
eq "$(state)" "$before" "a bad command line changed something"
ok dispute --help
grep -q '^usage: switchctl dispute open' "$tmp/out" || fail "dispute --help"
ok --help
grep -q '^  dispute open|show|list|review|resolve' "$tmp/out" || fail "switchctl --help lists dispute"

# 2. Open: by card and RRN (a dispute), by --pan and approval code and by
#    id (error claims). Deadlines 30 and 90 days after opening.
ok dispute open 4 --rrn 600000000001 --kind dispute --reason "goods not received"
d1=$(q "select id from disputes where auth_id = $t1")
grep -qE "^dispute $d1 opened: dispute on transaction $t1 \(purchase USD 25\.00, card 453910\*{6}[0-9]{4}, [0-9-]{10} [0-9:]{5}\); review by [0-9-]{10} [0-9:]{5}, resolve by [0-9-]{10} [0-9:]{5}\$" \
  "$tmp/out" || fail "open printed: $(cat "$tmp/out")"
eq "$(q "select review_by - opened_at, resolve_by - opened_at, status, kind, card_id, opened_by = session_user
         from disputes where id = $d1")" "30 days|90 days|open|dispute|4|t" "dispute 1 row"
eq "$(q "select details->>'auth_id', details->>'kind', details->>'reason', operator = session_user from audit_log
         where action = 'dispute_open' and object = 'dispute:$d1'")" "$t1|dispute|goods not received|t" "open audit row"
ok dispute open --pan "$pan8" --approval "$ap2" --kind error-claim --reason "ATM gave 20.00 of 40.00"
d2=$(q "select id from disputes where auth_id = $t2")
grep -q "^dispute $d2 opened: error claim on transaction $t2 (cash USD 40.00, card 527410" "$tmp/out" ||
  fail "open by pan: $(cat "$tmp/out")"
ok dispute open --auth "$t3" --kind error-claim --reason "no cash came out"
d3=$(q "select id from disputes where auth_id = $t3")

# 3. Refusals: exit 1, one line, nothing changed.
before=$(state)
expect 1 "^switchctl: transaction $t1 already has an open dispute \($d1\): resolve it first\$" \
  dispute open --auth "$t1" --kind error-claim --reason again
expect 1 "^switchctl: transaction $t4 was declined \(61, daily_amount_product\): nothing was charged\$" \
  dispute open --auth "$t4" --kind dispute --reason x
expect 1 "^switchctl: transaction $t5 is a refund: it credited the account\$" dispute open --auth "$t5" --kind dispute --reason x
expect 1 "^switchctl: transaction $t2rev is a reversal message, not a card transaction" \
  dispute open --auth "$t2rev" --kind error-claim --reason x
expect 1 '^switchctl: no transaction 999999 in the authorisation log$' dispute open --auth 999999 --kind dispute --reason x
expect 1 "^switchctl: card 6: 2 approved transactions with RRN 600000000009: name one by its id \($t6, $t7\)\$" \
  dispute open 6 --rrn 600000000009 --kind dispute --reason x
expect 1 '^switchctl: card 6: no approved transaction with approval code 000000$' \
  dispute open 6 --approval 000000 --kind dispute --reason x
expect 1 '^switchctl: no card 999$' dispute open 999 --rrn 1 --kind dispute --reason x
expect 1 '^switchctl: no such card$' dispute open --pan 4000000000000002 --rrn 1 --kind dispute --reason x
expect 1 '^switchctl: no dispute 999$' dispute show 999
expect 1 '^switchctl: no dispute 999$' dispute resolve 999 --reject --reason x
eq "$(state)" "$before" "a refusal changed something"

# 4. The 15-day rule, in calendar days of Phnom Penh: T6 16 days old is too
#    late for a dispute (an error claim is still taken), T7 15 days old is
#    on its last day.
q "update auth_log set created_at = created_at - interval '16 days' where id = $t6;
   update auth_log set created_at = created_at - interval '15 days' where id = $t7" >/dev/null
d6day=$(q "select (created_at at time zone 'Asia/Phnom_Penh')::date from auth_log where id = $t6")
last=$(q "select '$d6day'::date + 15")
before=$(state)
expect 1 "^switchctl: dispute refused: transaction $t6 of $d6day is 16 days old; disputes must be raised within 15 days of the transaction \(last day was $last\)\$" \
  dispute open --auth "$t6" --kind dispute --reason "late"
eq "$(state)" "$before" "a late dispute changed something"
ok dispute open --auth "$t6" --kind error-claim --reason "charged twice"
d6=$(q "select id from disputes where auth_id = $t6")
ok dispute open --auth "$t7" --kind dispute --reason "not authorised by me"
d7=$(q "select id from disputes where auth_id = $t7")
eq "$(q "select details->>'days_after_transaction' from audit_log where object = 'dispute:$d7'")" 15 "days recorded"

# 5. Review: once; the reviewed one is no longer "review overdue".
ok dispute review "$d2" --note "asked the acquirer for the ATM journal"
out_is "dispute $d2: under review"
before=$(state)
expect 1 "^switchctl: dispute $d2 is under review since " dispute review "$d2"
eq "$(state)" "$before" "a second review changed something"
eq "$(q "select status, reviewed_at is not null from disputes where id = $d2")" "reviewing|t" "reviewed"

# 6. Lists at other instants: 31 days on, four are past their review
#    deadline (not the one under review); 91 days on, all five are past
#    the resolution deadline; now, none.
ok dispute list
eq "$(wc -l <"$tmp/out")" 5 "open disputes listed"
grep -qE "^ +$d2  error-claim  reviewing  opened [0-9-]{10}  527410\*{6}[0-9]{4}  cash +USD 40\.00  review by [0-9-]{10}, resolve by [0-9-]{10}\$" \
  "$tmp/out" || fail "list line: $(cat "$tmp/out")"
ok dispute list --overdue
out_is "no overdue disputes"
ok dispute list --overdue --now "$(q "select (now() + interval '31 days')::text")"
eq "$(grep -c 'REVIEW OVERDUE$' "$tmp/out")" 4 "review overdue"
eq "$(awk '{print $1}' "$tmp/out" | sort -n | tr '\n' ' ')" "$(printf '%s\n' "$d1" "$d3" "$d6" "$d7" | sort -n | tr '\n' ' ')" \
  "the four past review"
ok dispute list --overdue --now "$(q "select (now() + interval '91 days')::text")"
eq "$(grep -c 'RESOLUTION OVERDUE$' "$tmp/out")" 5 "resolution overdue"

# 7. Resolve with credits. T1 (held 25.00): at most 25.00; accepted with a
#    chargeback against Visa, credited from the chargeback receivable.
before=$(state)
expect 1 "^switchctl: credit USD 25\.01 exceeds what transaction $t1 can still be credited: USD 25\.00\$" \
  dispute resolve "$d1" --accept --credit 25.01 --chargeback --reason "merchant silent"
eq "$(state)" "$before" "a refused credit changed something"
cb0=$(ledger GL-CHARGEBACK_RECEIVABLE-USD) loss0=$(ledger GL-DISPUTE_LOSS-USD)
ok dispute resolve "$d1" --accept --credit 25.00 --chargeback --reason "merchant silent"
e1=$(q "select entry_id from disputes where id = $d1")
out_is "dispute $d1 accepted: USD 25.00 credited to account 100000021 from GL-CHARGEBACK_RECEIVABLE-USD (journal entry $e1); chargeback to be raised against visa"
eq "$(ledger 100000021)" $((l4 + 2500)) "T1 cardholder credited"
eq "$(ledger GL-CHARGEBACK_RECEIVABLE-USD)" $((cb0 - 2500)) "chargeback receivable"
eq "$(q "select kind, auth_id, business_day = (now() at time zone 'Asia/Phnom_Penh')::date, description
         from journal_entries where id = $e1")" "dispute_credit|$t1|t|dispute $d1: merchant silent" "credit entry"
eq "$(q "select string_agg(line_kind || ':' || amount, ' ' order by amount) from journal_lines where entry_id = $e1")" \
   "principal:-2500 principal:2500" "credit lines"
eq "$(q "select status, credit_amount, credit_currency, chargeback, resolved_by = session_user, resolution, retention_class
         from disputes where id = $d1")" "accepted|2500|840|t|t|merchant silent|txn" "resolved row"
# T2: 40.00 + 5.00 fee, 20.00 given back by the reversal: at most 25.00.
expect 1 "can still be credited: USD 25\.00\$" dispute resolve "$d2" --accept --credit 25.01 --reason x
ok dispute resolve "$d2" --accept --credit 25 --chargeback --reason "ATM journal shows 20.00 dispensed"
eq "$(ledger 100000051)" $((l8 + 2500)) "T2 cardholder credited"
eq "$(ledger GL-CHARGEBACK_RECEIVABLE-USD)" $((cb0 - 5000)) "chargeback receivable after T2"
# T3, our own ATM: nobody to charge back; the bank's loss.
before=$(state)
expect 1 "^switchctl: transaction $t3 was at the bank's own terminal ATM00001: there is no scheme to charge back\$" \
  dispute resolve "$d3" --accept --credit 100.00 --chargeback --reason x
eq "$(state)" "$before" "a refused chargeback changed something"
ok dispute resolve "$d3" --accept --credit 100.00 --reason "ATM balancing found 100.00 over"
e3=$(q "select entry_id from disputes where id = $d3")
out_is "dispute $d3 accepted: USD 100.00 credited to account 100000011 from GL-DISPUTE_LOSS-USD (journal entry $e3)"
eq "$(ledger 100000011)" 500000 "T3 cardholder made whole"
eq "$(ledger GL-DISPUTE_LOSS-USD)" $((loss0 - 10000)) "dispute loss"
# A second claim on T3: nothing left to credit; rejected.
ok dispute open --auth "$t3" --kind error-claim --reason "still missing"
d3b=$(q "select max(id) from disputes where auth_id = $t3")
expect 1 "can still be credited: USD 0\.00\$" dispute resolve "$d3b" --accept --credit 0.01 --reason x
ok dispute resolve "$d3b" --reject --reason "credited in full by $d3"
out_is "dispute $d3b rejected"
# T6's claim rejected, T7's dispute accepted without a credit (the merchant refunded).
ok dispute resolve "$d6" --reject --reason "both charges are real"
ok dispute resolve "$d7" --accept --reason "merchant refunded"
out_is "dispute $d7 accepted"
eq "$(q "select status, entry_id is null, credit_amount, chargeback, retention_class from disputes where id = $d6")" \
   "rejected|t|0|f|correction" "rejected row"

# 8. Final: a resolved dispute cannot be resolved again.
before=$(state)
expect 1 "^switchctl: dispute $d1 was resolved \(accepted\) at [0-9-]{10} [0-9:]{5} by .*: a resolution is final\$" \
  dispute resolve "$d1" --accept --credit 1 --reason again
expect 1 "^switchctl: dispute $d6 was resolved \(rejected\) at .*: a resolution is final\$" \
  dispute resolve "$d6" --accept --reason "changed my mind"
expect 1 "^switchctl: dispute $d7 was resolved" dispute review "$d7"
eq "$(state)" "$before" "resolving twice changed something"

# 9. show, the lists after resolution, history, audit, retention.
ok dispute show "$d2"
grep -qx "dispute $d2: error claim, accepted" "$tmp/out" || fail "show header: $(cat "$tmp/out")"
grep -qE "^  transaction  $t2: cash USD 40\.00 \(account: USD 45\.00 with fees\) on .*, other bank's terminal OTHATM01, merchant MER000000000009, RRN 600000000002, approval $ap2\$" \
  "$tmp/out" || fail "show transaction: $(cat "$tmp/out")"
grep -qE "^  card         527410\*{6}[0-9]{4} \(id 8, mastercard\), account 100000051\$" "$tmp/out" || fail "show card"
grep -qE "^  resolved     .*: accepted, credited USD 25\.00 \(journal entry [0-9]+\), chargeback to be raised against mastercard; reason: ATM journal shows 20\.00 dispensed\$" \
  "$tmp/out" || fail "show resolution: $(cat "$tmp/out")"
grep -qx "  creditable   USD 0.00 more" "$tmp/out" || fail "show creditable"
grep -qE "^  retention    txn \(5 years\): kept until [0-9-]{10}\$" "$tmp/out" || fail "show retention"
eq "$(sed -n '/^  history$/,$p' "$tmp/out" | awk 'NR > 1 {print $3}' | tr '\n' ' ')" "open reviewing accepted " "history"
ok dispute show "$d6"
grep -qE "^  retention    correction \(1 year\): kept until [0-9-]{10}\$" "$tmp/out" || fail "rejected retention"
ok dispute list
eq "$(cat "$tmp/out")" "no open disputes" "nothing open"
ok dispute list --chargebacks
eq "$(awk '{print $1}' "$tmp/out" | tr '\n' ' ')" "$d1 $d2 " "chargebacks to raise"
grep -q "chargeback to raise (mastercard)\$" "$tmp/out" || fail "chargeback list: $(cat "$tmp/out")"
ok dispute list --all
eq "$(wc -l <"$tmp/out")" 6 "all disputes"
eq "$(q "select string_agg(action || ':' || n, ' ' order by action) from (select action, count(*) n from audit_log
         where action like 'dispute%' group by action) x")" "dispute_open:6 dispute_resolve:6 dispute_review:1" "audit rows"
eq "$(q "select details->>'credit', details->>'chargeback', details->>'entry_id', details->>'status' from audit_log
         where action = 'dispute_resolve' and object = 'dispute:$d1'")" "2500|true|$e1|accepted" "resolve audit row"
eq "$(q "select count(*) from dispute_events")" 13 "status history rows"
invariants "disputes"
no_pans
echo "ok: disputes and error claims"
