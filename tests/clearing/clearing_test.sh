#!/usr/bin/env bash
# Clearing end to end against a real database: authorisations made by the
# schema's own authorise(), clearing files written from the authorisation log
# by `switchctl clearing make-test-file` (Mastercard IPM, blocked and not;
# Visa BASE II, ASCII and EBCDIC), imported by `switchctl clearing import`:
# matching and holds released, fees and conversion, tip and fuel tolerance, late
# presentment after hold expiry, unknown cards to the exceptions queue,
# credits, reversals of presentments, a presentment sent twice (in one file
# and in a later one), the same file twice, structural corruption and a
# trailer that disagrees (rejected whole, nothing posted), exceptions
# resolved and written off, the reconciliation report, and the ledger's
# invariants after each step.
#   clearing_test.sh SWITCHCTL
here=$(cd "$(dirname "$0")" && pwd)
. "$here/../db/lib.sh"
SWITCHCTL=$1
tmp=$(mktemp -d)
db_setup "$SWITCHCTL"
trap 'rm -rf "$tmp"; psql -X -q -d postgres -c "DROP DATABASE IF EXISTS $DB WITH (FORCE)" >/dev/null 2>&1 || true' EXIT
export SWITCH_PAN_HMAC_KEY=00112233445566778899aabbccddeeff00112233445566778899aabbccddeeff
export SWITCH_PAN_ENC_KEY=ffeeddccbbaa99887766554433221100ffeeddccbbaa99887766554433221100
fail() { echo "FAIL: $*"; exit 1; }
q() { psql_t -At -c "$1"; }
sc() { "$SWITCHCTL" --db "dbname=$DB" "$@" >"$tmp/out" 2>"$tmp/err"; }
invariants() { psql_t -f "$here/../db/helpers.sql" -c "SELECT pg_temp.check_invariants()" >/dev/null ||
               fail "ledger invariants after $1"; }
eq() { [ "$1" = "$2" ] || fail "$3: got '$1', want '$2'"; }
ledger() { q "select ledger_balance from accounts where number = '$1'"; }
avail() { q "select account_available(a) from accounts a where number = '$1'"; }
snapshot() { q "select (select count(*) from journal_lines) || ' ' || (select count(*) from clearing_records) || ' '
                || (select count(*) from clearing_files) || ' ' || (select count(*) from holds where status = 'active')"; }
day=$(q "select (now() at time zone 'Asia/Phnom_Penh')::date")
hold_status() { q "select h.status from holds h join auth_log l on l.hold_id = h.id where l.id = $1"; }
visa_file() { # SEQ [OPTION...]: write the day's Visa file number SEQ, then import it
  local seq=$1; shift
  sc clearing make-test-file --scheme visa --date "$day" --out "$tmp/v$seq.ctf" --file-seq "$seq" "$@" \
    || fail "make v$seq: $(cat "$tmp/err")"
  sc clearing import "$tmp/v$seq.ctf" || fail "import v$seq: $(cat "$tmp/err")"
}
file_records() { # SEQ -> "AMOUNT:OUTCOME:DETAIL ..." of the Visa file number SEQ, in file order
  q "select string_agg(r.amount || ':' || r.outcome || ':' || r.detail, ' ' order by r.seq) from clearing_records r
     join clearing_files f on f.id = r.file_id where f.scheme = 'visa' and f.file_id like '%-$(printf %03d "$1")'"
}
open_exception() { # AUTH_ID REASON -> "EXCEPTION_ID PRESENTED_AMOUNT" of its open exception
  q "select x.id || ' ' || r.amount from clearing_exceptions x join clearing_records r on r.id = x.record_id
     where r.matched_auth_id = $1 and x.reason = '$2' and x.resolved_at is null"
}

# Authorisations through the schema's authorise(), as switchd calls it.
stan=0
auth() { # TYPE ACQUIRER TERMINAL CARD_ID AMOUNT CURRENCY MCC -> "RC APPROVAL" (stan: the caller's)
  local pin=NULL
  [ "$1" = cash ] && pin="'ok'"
  q "select (r).response_code || ' ' || coalesce((r).approval_code, '') from (select authorise('$1', '$2', '$3',
       lpad('$stan', 6, '0'), '1123101500', (select pan_hash from cards where id = $4), $5, $6::smallint,
       p_mcc => '$7', p_pin_result => $pin) r) x"
}
approved() { local a; stan=$((stan + 1)); a=$(auth "$@"); [ "${a%% *}" = 00 ] || fail "authorise $*: $a"; }
own=00000000001 other=00000000002
mc=8 mc_acct=100000051          # Mastercard Standard, USD
visa=4 visa_acct=100000021      # Visa Business, USD
khr=3 khr_acct=100000012        # Visa Classic on a KHR account

# 1. A Mastercard day: two purchases, a restaurant bill (tip tolerance),
#    cash at another bank's ATM (fee 5.00 held), a refund (credited at once).
approved purchase $own POS00001 $mc 2000 840 5411
approved purchase $own POS00002 $mc 3000 840 5812
approved cash $other OTHER001 $mc 4000 840 6011
approved refund $own POS00001 $mc 1250 840 5411
l0=$(ledger $mc_acct) a0=$(avail $mc_acct) s0=$(ledger GL-SCHEME_SETTLEMENT-USD) f0=$(ledger GL-FEE_INCOME-USD)
eq "$(q "select count(*) from holds h join accounts a on a.id = h.account_id where a.number = '$mc_acct' and h.status = 'active'")" 3 "holds before clearing"

sc clearing make-test-file --scheme mastercard --date "$day" --out "$tmp/mc1.ipm" --blocked --unknown-cards 2 --credits 1 \
  || fail "make-test-file: $(cat "$tmp/err")"
grep -q "mastercard file .* 7 records" "$tmp/out" || fail "make-test-file: $(cat "$tmp/out")"
[ $(( $(stat -c %s "$tmp/mc1.ipm") % 1014 )) -eq 0 ] || fail "--blocked file is not in 1014-byte blocks"
sc clearing import "$tmp/mc1.ipm" || fail "import: $(cat "$tmp/err")"
grep -q "imported as clearing file 1: mastercard .*1014-byte blocks" "$tmp/out" || fail "import said: $(cat "$tmp/out")"
# Three presentments matched (holds released), the refund's clearing posts
# nothing (credited at authorisation), the extra credit is posted, the two
# unknown cards are exceptions.
eq "$(q "select string_agg(outcome || ':' || detail || ':' || n, ' ' order by outcome, detail) from
        (select outcome, detail, count(*) n from clearing_records group by 1, 2) x")" \
   "exception:unknown_card:2 force:credit:1 matched:hold_released:3 matched:refund_credited_at_authorisation:1" "outcomes"
eq "$(q "select count(*) from holds h join accounts a on a.id = h.account_id where a.number = '$mc_acct' and h.status = 'active'")" 0 "holds after clearing"
# Ledger: -(20 + 30 + 40 + 5.00 fee) + 10.00 credit; available only gains
# the credit (the holds it releases were already counted).
eq "$(ledger $mc_acct)" $((l0 - 2000 - 3000 - 4000 - 500 + 1000)) "cardholder ledger after clearing"
eq "$(avail $mc_acct)" $((a0 + 1000)) "cardholder available after clearing"
eq "$(ledger GL-FEE_INCOME-USD)" $((f0 + 500)) "fee income"
eq "$(ledger GL-SCHEME_SETTLEMENT-USD)" $((s0 + 9000 - 1000)) "scheme settlement"
eq "$(q "select count(*) from clearing_exceptions where resolved_at is null")" 2 "open exceptions"
invariants "first import"

# 2. The same file again posts nothing; a file with the same id but other
#    bytes is refused.
before=$(snapshot)
sc clearing import "$tmp/mc1.ipm" || fail "second import: $(cat "$tmp/err")"
grep -q "already imported as clearing file 1" "$tmp/out" || fail "second import said: $(cat "$tmp/out")"
eq "$(snapshot)" "$before" "second import changed something"
eq "$(q "select count(*) || ' ' || min(object) || ' ' || min(details->>'records') from audit_log where action = 'clearing_import'")" \
   "1 clearing_file:1 $(q "select record_count from clearing_files where id = 1")" "the import's audit row (once)"
sc clearing make-test-file --scheme mastercard --date "$day" --out "$tmp/mc1b.ipm" --unknown-cards 3 || fail "make 1b"
rc=0; sc clearing import "$tmp/mc1b.ipm" || rc=$?
eq "$rc" 1 "same file id, other bytes: exit"
grep -q "file id .* was imported on .* from a different file" "$tmp/err" || fail "same id: $(cat "$tmp/err")"
eq "$(snapshot)" "$before" "refused file changed something"

# 3. Structure: a file cut at any record boundary, or with one amount digit
#    changed (the trailer disagrees), is rejected whole with its byte offset.
approved purchase $own POS00001 $visa 1500 840 5411
approved purchase $own POS00001 $visa 2500 840 5411
sc clearing make-test-file --scheme visa --date "$day" --out "$tmp/v1.ctf" || fail "make visa: $(cat "$tmp/err")"
size=$(stat -c %s "$tmp/v1.ctf")
eq $((size % 168)) 0 "BASE II file of 168-byte records"
before=$(snapshot)
for cut in 168 336 $((size - 168)) $((size - 100)); do
  head -c $cut "$tmp/v1.ctf" >"$tmp/cut.ctf"
  rc=0; sc clearing import "$tmp/cut.ctf" || rc=$?
  eq "$rc" 1 "file cut at $cut: exit"
  grep -q "rejected, nothing posted: byte offset [0-9]*, record [0-9]*: " "$tmp/err" || fail "cut at $cut: $(cat "$tmp/err")"
  [ "$(wc -l <"$tmp/err")" -eq 1 ] || fail "cut at $cut: not one line"
done
# Source amount of the first transaction (TCR 0 positions 77-88 of record 2).
cp "$tmp/v1.ctf" "$tmp/bad.ctf"
printf '9' | dd of="$tmp/bad.ctf" bs=1 seek=$((168 + 80)) conv=notrunc status=none
rc=0; sc clearing import "$tmp/bad.ctf" || rc=$?
eq "$rc" 1 "trailer disagrees: exit"
grep -q "byte offset .*: TC 9[12]" "$tmp/err" || fail "trailer disagrees: $(cat "$tmp/err")"
eq "$(snapshot)" "$before" "rejected files changed something"
rc=0; sc clearing import "$tmp/v1.ctf" --scheme mastercard || rc=$?
eq "$rc" 1 "--scheme mismatch: exit"
grep -q "but the file is visa" "$tmp/err" || fail "--scheme mismatch: $(cat "$tmp/err")"
sc clearing import "$tmp/v1.ctf" --scheme visa || fail "visa import: $(cat "$tmp/err")"
eq "$(q "select count(*) from clearing_records r join clearing_files f on f.id = r.file_id
        where f.scheme = 'visa' and outcome = 'matched'")" 2 "visa matched"
invariants "visa import"

# 4. Conversion: a USD purchase on a KHR account, presented in USD. The
#    account pays the principal at the authorisation's rate plus the
#    conversion fee held; the scheme is owed the USD amount.
approved purchase $own POS00001 $khr 1000 840 5411
read -r amt_acct conv <<<"$(q "select amount_acct || ' ' || fee_conversion from auth_log where card_id = $khr
                               and msg_class = 'auth' order by id desc limit 1")"
k0=$(ledger $khr_acct) fx0=$(ledger GL-FX_INCOME-KHR)
sc clearing make-test-file --scheme visa --date "$day" --out "$tmp/v2.ctf" --ebcdic --file-seq 2 || fail "make v2"
sc clearing import "$tmp/v2.ctf" || fail "import v2: $(cat "$tmp/err")"
grep -q "EBCDIC" "$tmp/out" || fail "v2 not EBCDIC: $(cat "$tmp/out")"
eq "$(ledger $khr_acct)" $((k0 - amt_acct - conv)) "KHR account after clearing a USD purchase"
eq "$(ledger GL-FX_INCOME-KHR)" $((fx0 + conv)) "conversion fee income"
invariants "conversion"

# 5. Tolerance: a restaurant may present 15% more (tip), a shop may not:
#    the shop's record goes to the exceptions queue and its hold stays.
approved purchase $own POS00002 $mc 10000 840 5812
approved purchase $own POS00001 $mc 10000 840 5411
l1=$(ledger $mc_acct)
sc clearing make-test-file --scheme mastercard --date "$day" --out "$tmp/mc2.ipm" --vary-amount 15 --file-seq 2 \
  || fail "make mc2"
sc clearing import "$tmp/mc2.ipm" || fail "import mc2: $(cat "$tmp/err")"
eq "$(q "select string_agg(mcc || ':' || outcome || ':' || amount, ' ' order by mcc) from clearing_records r
        join clearing_files f on f.id = r.file_id where f.file_id like '%00002' and f.scheme = 'mastercard'")" \
   "5411:exception:11500 5812:matched:11500" "tolerance outcomes"
eq "$(ledger $mc_acct)" $((l1 - 11500)) "tip presented"
eq "$(q "select count(*) from holds h join accounts a on a.id = h.account_id where a.number = '$mc_acct' and h.status = 'active'")" 1 "over-tolerance hold kept"

# 5b. A fuel pump: authorised 100.00, presents 60.00 (the tank was full):
#     matched, the whole hold released, only 60.00 posted.
approved purchase $own POS00003 $mc 10000 840 5542
l2=$(ledger $mc_acct) a2=$(avail $mc_acct)
sc clearing make-test-file --scheme mastercard --date "$day" --out "$tmp/mc3.ipm" --vary-amount -40 --file-seq 3 \
  || fail "make mc3"
sc clearing import "$tmp/mc3.ipm" || fail "import mc3: $(cat "$tmp/err")"
eq "$(q "select string_agg(mcc || ':' || outcome || ':' || amount, ' ' order by mcc) from clearing_records r
        join clearing_files f on f.id = r.file_id where f.file_id like '%00003' and f.scheme = 'mastercard'")" \
   "5542:matched:6000" "fuel outcomes"
eq "$(ledger $mc_acct)" $((l2 - 6000)) "fuel presented lower"
eq "$(avail $mc_acct)" $((a2 + 4000)) "rest of the fuel hold released"

# 6. Late presentment: a hold expires after 32 days, the presentment that
#    arrives later is still posted (late), never lost.
approved purchase $own POS00001 $visa 4200 840 5411
sc holds expire --now "$(q "select (now() + interval '40 days')::text")" || fail "holds expire: $(cat "$tmp/err")"
eq "$(q "select count(*) || ' ' || min(object) from audit_log where action = 'holds_expire' and (details->>'result')::int >= 1")" \
   "1 job" "holds expire's audit row"
v0=$(ledger $visa_acct)
sc clearing make-test-file --scheme visa --date "$day" --out "$tmp/v3.ctf" --late 5 --file-seq 3 || fail "make v3"
sc clearing import "$tmp/v3.ctf" || fail "import v3: $(cat "$tmp/err")"
eq "$(q "select outcome || ':' || detail from clearing_records where amount = 4200")" \
   "late:hold_expired_late_presentment" "late presentment"
eq "$(ledger $visa_acct)" $((v0 - 4200)) "late presentment posted"

# 7. Reversal of a presentment: the acquirer takes one back (same ARN), the
#    cardholder gets exactly the posting back.
approved purchase $own POS00003 $visa 777 840 5541
v1=$(ledger $visa_acct)
sc clearing make-test-file --scheme visa --date "$day" --out "$tmp/v4.ctf" --reversals 1 --file-seq 4 || fail "make v4"
sc clearing import "$tmp/v4.ctf" || fail "import v4: $(cat "$tmp/err")"
eq "$(q "select string_agg(kind || ':' || outcome, ' ' order by seq) from clearing_records r
        join clearing_files f on f.id = r.file_id where f.file_id like '%-004'")" \
   "presentment:matched presentment_reversal:reversed" "reversal in the same file"
eq "$(ledger $visa_acct)" "$v1" "presentment and its reversal"
invariants "reversal"

# 7b. A terminal's reversal arriving after clearing (issue 6): the cleared
#     purchase is refunded at once (rule cleared_refunded); the acquirer's
#     clearing reversal of that presentment in a later file is then not
#     posted again but queued (refunded_by_terminal_reversal). A presentment
#     of an earlier file reversed by a later one is undone.
stan=$((stan + 1)); late_stan=$(printf %06d $stan)
approved_at() { q "select (r).response_code from (select authorise('purchase', '$own', 'POS00001', '$late_stan',
  '1123101500', (select pan_hash from cards where id = $visa), 3100, 840::smallint, p_mcc => '5411') r) x"; }
eq "$(approved_at)" 00 "purchase to reverse after clearing"
approved purchase $own POS00001 $visa 1900 840 5411
sc clearing make-test-file --scheme visa --date "$day" --out "$tmp/v5.ctf" --file-seq 5 || fail "make v5"
sc clearing import "$tmp/v5.ctf" || fail "import v5: $(cat "$tmp/err")"
v3=$(ledger $visa_acct)
eq "$(q "select (r).response_code || ' ' || (r).rule from (select reverse('$own', 'POS00001', '900001', '1123101600',
        '$late_stan', '1123101500', 0, '0420') r) x")" "00 cleared_refunded" "reversal after clearing"
eq "$(ledger $visa_acct)" $((v3 + 3100)) "refunded after clearing"
visa_file 6 --reverse-cleared 2
eq "$(file_records 6)" \
   "1900:reversed:reversal_of_record 3100:exception:refunded_by_terminal_reversal" "reversals of an earlier file"
eq "$(ledger $visa_acct)" $((v3 + 3100 + 1900)) "refunded once each"
invariants "reversal after clearing"

# 8. Exceptions: bad command lines are one line and exit 2; one unknown-card
#    record is posted to an account, one written off; both audit-logged.
for args in "--resolve 1" "--resolve x --account $visa_acct" "--resolve 1 --write-off 2" "--account 1"; do
  rc=0
  # shellcheck disable=SC2086
  sc clearing exceptions $args || rc=$?
  eq "$rc" 2 "exceptions $args: exit"
  [ "$(wc -l <"$tmp/err")" -eq 1 ] || fail "exceptions $args: not one line"
done
sc clearing exceptions || fail "exceptions list"
grep -q "599999\*\*\*\*\*\*0012 .* unknown_card" "$tmp/out" || fail "exceptions list: $(cat "$tmp/out")"
! grep -qE '(^|[^0-9])[0-9]{13,19}([^0-9]|$)' "$tmp/out" || fail "a full PAN in the exceptions list: $(grep -E '(^|[^0-9])[0-9]{13,19}([^0-9]|$)' "$tmp/out")"
x1=$(q "select min(x.id) from clearing_exceptions x join clearing_records r on r.id = x.record_id where x.reason = 'unknown_card'")
x2=$(q "select max(x.id) from clearing_exceptions x join clearing_records r on r.id = x.record_id where x.reason = 'unknown_card'")
amt1=$(q "select r.settle_amount from clearing_exceptions x join clearing_records r on r.id = x.record_id where x.id = $x1")
v2=$(ledger $visa_acct) w0=$(ledger GL-CLEARING_WRITEOFF-USD)
sc clearing exceptions --resolve "$x1" --account $visa_acct --note "card re-issued" || fail "resolve: $(cat "$tmp/err")"
eq "$(ledger $visa_acct)" $((v2 - amt1)) "resolved to the account"
sc clearing exceptions --write-off "$x2" || fail "write-off: $(cat "$tmp/err")"
[ "$(ledger GL-CLEARING_WRITEOFF-USD)" -lt "$w0" ] || fail "write-off not booked"
rc=0; sc clearing exceptions --write-off "$x2" || rc=$?
eq "$rc" 1 "second write-off: exit"
grep -q "was resolved at" "$tmp/err" || fail "second write-off: $(cat "$tmp/err")"
eq "$(q "select count(*) from audit_log where action like 'clearing_exception_%'")" 2 "audit log"
invariants "exceptions"

# 8b. A shop presents 15% more than it authorised, in USD on a KHR card: an
#     exception (over tolerance). Resolved to the card's own account, it pays
#     what a matched presentment pays: the amount presented and the
#     authorisation's conversion fee scaled to it (the unknown card above,
#     resolved to another account, paid no fee); the hold is completed.
approved purchase $own POS00001 $khr 10000 840 5411
read -r aid auth_acct auth_conv <<<"$(q "select id || ' ' || amount_acct || ' ' || fee_conversion from auth_log
                                         where card_id = $khr and msg_class = 'auth' order by id desc limit 1")"
[ "$auth_conv" -gt 0 ] || fail "the KHR purchase held no conversion fee"
sc clearing make-test-file --scheme visa --date "$day" --out "$tmp/v7.ctf" --vary-amount 15 --file-seq 7 \
  || fail "make v7"
sc clearing import "$tmp/v7.ctf" || fail "import v7: $(cat "$tmp/err")"
read -r x3 _ <<<"$(open_exception "$aid" over_tolerance)"
[ -n "$x3" ] || fail "no open over-tolerance exception for the KHR purchase"
k3=$(ledger $khr_acct) fx3=$(ledger GL-FX_INCOME-KHR)
sc clearing exceptions --resolve "$x3" --account $khr_acct || fail "resolve over tolerance: $(cat "$tmp/err")"
read -r principal conv_fee <<<"$(q "select -sum(l.amount) filter (where l.line_kind = 'principal') || ' ' ||
                                    -sum(l.amount) filter (where l.line_kind = 'conversion_fee')
                                    from journal_lines l join accounts a on a.id = l.account_id
                                    where a.number = '$khr_acct'
                                      and l.entry_id = (select entry_id from clearing_exceptions where id = $x3)")"
eq "$conv_fee" $((auth_conv * principal / auth_acct)) "conversion fee of the resolved exception"
eq "$(ledger $khr_acct)" $((k3 - principal - conv_fee)) "over tolerance resolved: principal and fee"
eq "$(ledger GL-FX_INCOME-KHR)" $((fx3 + conv_fee)) "over tolerance resolved: fee income"
eq "$(hold_status "$aid")" completed \
   "over tolerance resolved: hold"
invariants "over tolerance resolved"

# 8c. Cash at another bank's ATM presented 15% over what was authorised (not
#     a tip MCC): an exception. Resolved to the card's own account, it pays
#     the authorisation's flat fee (5.00), as a matched presentment does, on
#     top of the amount presented; the hold is completed.
approved cash $other OTHER001 $mc 4000 840 6011
read -r aid auth_fee <<<"$(q "select id || ' ' || fee from auth_log
                              where card_id = $mc and msg_class = 'auth' order by id desc limit 1")"
eq "$auth_fee" 500 "the ATM withdrawal's flat fee"
sc clearing make-test-file --scheme mastercard --date "$day" --out "$tmp/mc4.ipm" --vary-amount 15 --file-seq 4 \
  || fail "make mc4: $(cat "$tmp/err")"
sc clearing import "$tmp/mc4.ipm" || fail "import mc4: $(cat "$tmp/err")"
read -r x4 presented <<<"$(open_exception "$aid" over_tolerance)"
[ -n "$x4" ] || fail "no open over-tolerance exception for the ATM withdrawal"
eq "$presented" 4600 "ATM cash presented"
m4=$(ledger $mc_acct) f4=$(ledger GL-FEE_INCOME-USD)
sc clearing exceptions --resolve "$x4" --account $mc_acct || fail "resolve ATM over tolerance: $(cat "$tmp/err")"
eq "$(q "select string_agg(l.line_kind || ':' || l.amount, ' ' order by l.line_kind)
         from journal_lines l join accounts a on a.id = l.account_id
         where a.number = '$mc_acct' and l.entry_id = (select entry_id from clearing_exceptions where id = $x4)")" \
   "fee:-500 principal:-4600" "ATM over tolerance resolved: the card's lines"
eq "$(ledger $mc_acct)" $((m4 - 4600 - 500)) "ATM over tolerance resolved: ledger"
eq "$(ledger GL-FEE_INCOME-USD)" $((f4 + 500)) "ATM over tolerance resolved: fee income"
eq "$(hold_status "$aid")" completed \
   "ATM over tolerance resolved: hold"
invariants "ATM over tolerance resolved"

# 9. The reconciliation: the net settlement per scheme is what clearing
#    moved on the scheme settlement account.
sc clearing report --date "$day" --csv || fail "report: $(cat "$tmp/err")"
head -1 "$tmp/out" | grep -q "^business_day,scheme,currency,files,records,presentments" || fail "csv header: $(head -1 "$tmp/out")"
eq "$(grep -c "^$day,mastercard,USD," "$tmp/out")" 1 "mastercard csv row"
net=$(q "select sum(net_settlement) from clearing_reconciliation where business_day = '$day' and currency = 840")
moved=$(q "select sum(l.amount) from journal_lines l join journal_entries e on e.id = l.entry_id
           where e.kind like 'clearing_%' and e.kind not in ('clearing_exception', 'clearing_write_off')
             and l.account_id = internal_account('scheme_settlement', 840::smallint)")
# Refunds were booked against the scheme account when authorised; their
# clearing records count in the net but move nothing again.
refunds=$(q "select coalesce(sum(settle_amount), 0) from clearing_records
             where outcome = 'matched' and entry_id is null and settle_currency = 840")
eq $((moved + refunds)) "$net" "net settlement against the scheme account"
sc clearing report --date "$day" || fail "report text"
grep -q "net settlement owed to visa: USD" "$tmp/out" || fail "report text: $(cat "$tmp/out")"
! grep -qE '(^|[^0-9])[0-9]{13,19}([^0-9]|$)' "$tmp/out" || fail "a long digit run in the report"

# 10. The acquirer sends a presentment twice in one file (same ARN): the
#     first posts, the second is queued as a duplicate and posts nothing.
#     The other presentment, with an ARN of its own, is not a duplicate.
approved purchase $own POS00001 $visa 2300 840 5411
approved purchase $own POS00001 $visa 2400 840 5411
v8=$(ledger $visa_acct)
visa_file 8 --duplicates 1
eq "$(file_records 8)" \
   "2300:matched:hold_released 2400:matched:hold_released 2300:exception:duplicate_arn" "duplicate in one file"
eq "$(q "select count(*) from clearing_exceptions x join clearing_records r on r.id = x.record_id
        where x.reason = 'duplicate_arn' and x.resolved_at is null")" 1 "duplicate queued"
eq "$(ledger $visa_acct)" $((v8 - 2300 - 2400)) "a duplicate posts nothing"
invariants "duplicate in one file"

# 11. A presentment cleared in an earlier file arrives again in a later one
#     (same ARN, another file id): queued as a duplicate, posts nothing.
approved purchase $own POS00001 $visa 2500 840 5411
visa_file 9
v9=$(ledger $visa_acct) s9=$(ledger GL-SCHEME_SETTLEMENT-USD)
visa_file 10 --resend-cleared 1
eq "$(file_records 10)" "2500:exception:duplicate_arn" "a cleared presentment sent again"
eq "$(ledger $visa_acct)" "$v9" "a presentment sent again posts nothing"
eq "$(ledger GL-SCHEME_SETTLEMENT-USD)" "$s9" "a presentment sent again owes the scheme nothing"
invariants "a cleared presentment sent again"

# 12. The scheme reverses a cleared withdrawal at another bank's ATM, then the
#     acquirer presents it again (same ARN): not a duplicate, and it takes its
#     authorisation again, as a late presentment (the hold was completed by
#     the first) priced as authorised: the authorisation's fee, not a force
#     post's.
approved cash $other OTHER001 $visa 3000 840 6011
read -r aid12 fee12 <<<"$(q "select id || ' ' || fee from auth_log
                              where card_id = $visa and msg_class = 'auth' order by id desc limit 1")"
[ "$fee12" -gt 0 ] || fail "the withdrawal at another bank's ATM has no fee ($fee12)"
v11=$(ledger $visa_acct)
visa_file 11
eq "$(file_records 11)" "3000:matched:hold_released" "the withdrawal cleared"
eq "$(ledger $visa_acct)" $((v11 - 3000 - fee12)) "the withdrawal cleared: amount and fee"
visa_file 12 --reverse-cleared 1
eq "$(file_records 12)" "3000:reversed:reversal_of_record" "its clearing reversed"
eq "$(ledger $visa_acct)" "$v11" "the reversal gives back amount and fee"
s12=$(ledger GL-SCHEME_SETTLEMENT-USD)
visa_file 13 --resend-reversed 1
eq "$(file_records 13)" "3000:late:hold_expired_late_presentment" "presented again after the reversal"
eq "$(q "select r.matched_auth_id || ' ' || r.fee from clearing_records r join clearing_files f on f.id = r.file_id
         where f.scheme = 'visa' and f.file_id like '%-013'")" "$aid12 $fee12" "its authorisation and the authorisation's fee"
eq "$(ledger $visa_acct)" $((v11 - 3000 - fee12)) "posted once more, as authorised"
eq "$(ledger GL-SCHEME_SETTLEMENT-USD)" $((s12 + 3000)) "owed to the scheme once more"
invariants "the end"
echo "clearing: all checks passed"
