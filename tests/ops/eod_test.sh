#!/usr/bin/env bash
# switchctl eod against a real database, two business days back (D1, D2)
# and two in 2024/2025: holds and a cardless voucher expiring as of each
# day's end, annual fees on issue days and anniversaries (29 February
# included) with exact amounts in USD and KHR, a fee the available balance
# cannot cover collected in part and the rest on the next day, cards not
# charged (closed, expired, not their day), the clearing check (a file
# missing, net settlement, open exceptions); one line per step, a rerun
# that prints what was done and changes nothing, a day not yet over
# refused, a failing step rolled back and resumed, audit_log rows, the
# ledger's invariants, bad command lines.
#   eod_test.sh SWITCHCTL
here=$(cd "$(dirname "$0")" && pwd)
. "$here/lib.sh"
ops_setup "$1"

eq "$(q "select string_agg(c.id || ':' || p.code || ':' || a.number, ' ' order by c.id) from cards c
         join products p on p.id = c.product_id join accounts a on a.id = c.account_id")" \
   "1:VISA_CLASSIC:100000011 2:VISA_CLASSIC:100000011 3:VISA_CLASSIC:100000012 4:VISA_BUSINESS:100000021 5:VISA_BUSINESS:100000022 6:VISA_PLATINUM_LITE:100000031 7:VISA_PLATINUM:100000041 8:MC_STANDARD:100000051 9:MC_PLATINUM:100000061 10:UPI_CLASSIC:100000071 11:UPI_PLATINUM:100000081" \
   "demo cards"
today=$(q "select (now() at time zone 'Asia/Phnom_Penh')::date")
d1=$(q "select '$today'::date - 2") d2=$(q "select '$today'::date - 1")
at() { echo "(timestamp '$1 $2' at time zone 'Asia/Phnom_Penh')"; }   # DATE TIME in Phnom Penh
auth() { # STAN TYPE ACQUIRER TERMINAL CARD AMOUNT -> auth id of an approved authorisation
  local r
  r=$(q "select (r).response_code || ' ' || (r).auth_id from (select authorise('$2', '$3', '$4', '$1', '1124101500',
         (select pan_hash from cards where id = $5), $6, 840::smallint) r) x")
  [ "${r%% *}" = 00 ] || fail "authorise $*: $r"
  echo "${r##* }"
}

# 1. Bad command lines (exit 2) and a day not over yet (exit 1): nothing runs.
before=$(state)
expect 2 'missing --date YYYY-MM-DD' eod
expect 2 "--date must be YYYY-MM-DD, not '2025-2-3'" eod --date 2025-2-3
expect 2 "--date is not a calendar date '2025-02-30'" eod --date 2025-02-30
expect 2 "unexpected argument '--now'" eod --date "$d1" --now tomorrow
expect 2 "unexpected argument '--date'" eod --date "$d1" --date "$d2"
expect 1 "^switchctl: business day $today has not ended yet \(it ends at midnight, Asia/Phnom_Penh\): run its end of day after that\$" \
  eod --date "$today"
eq "$(state)" "$before" "a refused eod changed something"
ok eod --help
grep -q '^usage: switchctl eod --date YYYY-MM-DD' "$tmp/out" || fail "eod --help"

# 2. The day's work. Holds: one expiring at noon on D1, one half an hour
#    after D1 ends (D2's).
auth 000201 purchase 00000000001 POS00001 8 2500 >/dev/null
auth 000202 purchase 00000000001 POS00002 11 1500 >/dev/null
q "update holds set expires_at = $(at "$d1" 12:00) where account_id = (select account_id from cards where id = 8);
   update holds set expires_at = $(at "$d2" 00:30) where account_id = (select account_id from cards where id = 11)" >/dev/null
# A cardless voucher of 50.00 from account 100000071 that expired at 08:00 on D1.
pvk=$(q "select key_id from crypto_key_install('PVK', 'voucher-pvk', 'U' || repeat('AB', 24), 'ABC123')")
q "select voucher_create((select id from accounts where number = '100000071'), '7000000000000001', '+85599000001',
     '12345678', $pvk, 5000, 840::smallint)" >/dev/null
q "update cardless_vouchers set expires_at = $(at "$d1" 08:00)" >/dev/null
eq "$(ledger 100000071)" 495000 "voucher sent"
# Annual fees due on D1: card 2's first anniversary and card 1's issue day
# (USD 5.00 each, one account), card 3's second anniversary (KHR account:
# 5.00 at 4,000 = KHR 20,000.00), card 4's anniversary (20.00) on an
# account with 3.00 available. Card 6's anniversary is D2. Not charged:
# card 9 (closed) and card 10 (past its expiry date) on their anniversaries.
q "update cards set issued_at = $(at "$(q "select ('$d1'::date - interval '1 year')::date")" 10:00) where id in (2, 4, 9, 10);
   update cards set issued_at = $(at "$d1" 09:00) where id = 1;
   update cards set issued_at = $(at "$(q "select ('$d1'::date - interval '2 years')::date")" 23:59) where id = 3;
   update cards set issued_at = $(at "$(q "select ('$d2'::date - interval '1 year')::date")" 00:01) where id = 6;
   update cards set status = 'closed' where id = 9;
   update cards set expiry = '$d1'::date - 1 where id = 10;
   update accounts set minimum_balance = ledger_balance - 300 where number = '100000021'" >/dev/null
# Clearing on D1: a Visa file with one presentment; no Mastercard file.
visa_auth=$(auth 000203 purchase 00000000002 OTHPOS01 7 3000)
q "update auth_log set business_day = '$d1' where id = $visa_auth" >/dev/null
ok clearing make-test-file --scheme visa --date "$d1" --out "$tmp/visa.ctf"
ok clearing import "$tmp/visa.ctf"
eq "$(q "select outcome from clearing_records")" matched "the presentment matched"
invariants "the day's work"

# 3. End of D1: one line per step, exact amounts.
fee_usd=$(ledger GL-FEE_INCOME-USD) fee_khr=$(ledger GL-FEE_INCOME-KHR)
ok eod --date "$d1"
out_is "holds: 1 hold(s) expired, released USD 25.00
vouchers: 1 cardless voucher(s) expired, returned to the senders USD 50.00
annual_fees: 4 card(s) due; collected USD 13.00, KHR 20000.00; still owed (short of funds): 1 fee(s), USD 17.00
clearing: visa 1 file(s), net USD 30.00 to pay; NOT IMPORTED: mastercard; open exceptions 0 of the day's files, 0 in all (ATTENTION)"
eq "$(ledger 100000011)" 499000 "cards 1 and 2 charged 5.00 each"
eq "$(ledger 100000012)" $((2000000000 - 2000000)) "card 3 charged KHR 20,000.00"
eq "$(ledger 100000021)" 499700 "card 4 charged what was available"
eq "$(q "select account_available(a) from accounts a where number = '100000021'")" 0 "nothing left available"
eq "$(ledger GL-FEE_INCOME-USD)" $((fee_usd + 1300)) "fee income USD"
eq "$(ledger GL-FEE_INCOME-KHR)" $((fee_khr + 2000000)) "fee income KHR"
eq "$(ledger 100000071)" 500000 "voucher money back"
eq "$(q "select held_amount from accounts where number = '100000051'")" 0 "hold released"
eq "$(q "select held_amount from accounts where number = '100000081'")" 1500 "D2's hold still held"
eq "$(q "select string_agg(card_id || ':' || amount || ':' || collected, ' ' order by card_id) from annual_fee_charges
         where due_date = '$d1'")" "1:500:500 2:500:500 3:2000000:2000000 4:2000:300" "D1 charges"
eq "$(q "select count(*) from journal_entries where kind = 'annual_fee' and business_day = '$d1'")" 4 "one entry per fee"
eq "$(q "select string_agg(action, ' ' order by id) from audit_log where object = 'eod:$d1'")" \
   "eod_holds eod_vouchers eod_annual_fees eod_clearing" "D1 audit rows"
eq "$(q "select details->>'due', details->>'owed_fees', details->>'as_of' is not null from audit_log
         where object = 'eod:$d1' and action = 'eod_annual_fees'")" "4|1|t" "annual fee audit details"
invariants "eod D1"

# 4. Again: what was done, nothing done twice.
before=$(state)
lines=$(q "select count(*) from journal_lines")
ok eod --date "$d1"
eq "$(wc -l <"$tmp/out")" 4 "rerun lines"
while IFS= read -r line; do
  [[ "$line" =~ ^(holds|vouchers|annual_fees|clearing):\ done\ before\ \([0-9-]{10}\ [0-9:]{8}\ by\ [^\)]+\):\ (.*)$ ]] ||
    fail "rerun line: $line"
  eq "${BASH_REMATCH[2]}" "$(q "select result from eod_runs where business_day = '$d1' and step = '${BASH_REMATCH[1]}'")" \
     "rerun prints the recorded result"
done <"$tmp/out"
eq "$(state)" "$before" "a rerun changed something"
eq "$(q "select count(*) from journal_lines")" "$lines" "a rerun posted"
# Steps keep their order in the database too.
psql_t -c "select * from eod_step('$d2', 'clearing')" >/dev/null 2>"$tmp/sqlerr" && fail "clearing before the others"
grep -q "step clearing runs after annual_fees, which has not run" "$tmp/sqlerr" || fail "order: $(cat "$tmp/sqlerr")"

# 5. D2, with the fee income account missing: the annual fees step fails
#    and leaves nothing; the steps before it stay done; the next run
#    resumes there. Card 4's account has money again: the 17.00 owed is
#    collected with card 6's 20.00.
q "update accounts set minimum_balance = 1000 where number = '100000021'" >/dev/null
ok clearing make-test-file --scheme mastercard --date "$d2" --unknown-cards 1 --out "$tmp/mc.ipm"
ok clearing import "$tmp/mc.ipm"
q "update accounts set purpose = 'fee_income_moved' where number = 'GL-FEE_INCOME-USD'" >/dev/null
expect 1 '^switchctl: post_transfer: missing account' eod --date "$d2"
out_is "holds: 1 hold(s) expired, released USD 15.00
vouchers: 0 cardless voucher(s) expired"
eq "$(q "select string_agg(step, ' ' order by step) from eod_runs where business_day = '$d2'")" "holds vouchers" "D2 partial"
eq "$(q "select count(*) from annual_fee_charges where due_date = '$d2'")" 0 "the failed step left no charge"
eq "$(q "select collected from annual_fee_charges where card_id = 4")" 300 "nor a collection"
q "update accounts set purpose = 'fee_income' where number = 'GL-FEE_INCOME-USD'" >/dev/null
ok eod --date "$d2"
eq "$(sed -n 1,2p "$tmp/out" | cut -d' ' -f2,3)" "done before
done before" "resumed after the done steps"
eq "$(sed -n 3,4p "$tmp/out")" "annual_fees: 1 card(s) due; collected USD 37.00
clearing: mastercard 1 file(s), net USD 0.00 to pay; NOT IMPORTED: visa; open exceptions 1 of the day's files, 1 in all (ATTENTION)" \
   "D2 fees and clearing"
eq "$(ledger 100000021)" 498000 "card 4's fee collected in full"
eq "$(ledger 100000031)" 498000 "card 6 charged on its anniversary"
eq "$(ledger GL-FEE_INCOME-USD)" $((fee_usd + 1300 + 3700)) "fee income USD after D2"
eq "$(q "select string_agg(business_day || ':' || amount, ' ' order by business_day) from annual_fee_collections
         where charge_id = (select id from annual_fee_charges where card_id = 4)")" "$d1:300 $d2:1700" "collected in two parts"
eq "$(q "select paid_at is not null from annual_fee_charges where card_id = 4")" t "card 4's fee paid"
invariants "eod D2"

# 6. 29 February: a card issued on 2024-02-29 is charged that day (the
#    first year, in advance) and on 2025-02-28, not on 2025-03-01.
q "update cards set issued_at = $(at 2024-02-29 10:00) where id = 5" >/dev/null
ok eod --date 2024-02-29
grep -qx 'annual_fees: 1 card(s) due; collected KHR 80000.00' "$tmp/out" || fail "2024-02-29: $(cat "$tmp/out")"
grep -qx "clearing: no clearing files; NOT IMPORTED: mastercard, visa; open exceptions 0 of the day's files, 1 in all (ATTENTION)" \
  "$tmp/out" || fail "2024-02-29 clearing: $(cat "$tmp/out")"
ok eod --date 2025-02-28
grep -qx 'annual_fees: 1 card(s) due; collected KHR 80000.00' "$tmp/out" || fail "2025-02-28: $(cat "$tmp/out")"
ok eod --date 2025-03-01
grep -qx 'annual_fees: 0 card(s) due; nothing collected' "$tmp/out" || fail "2025-03-01: $(cat "$tmp/out")"
eq "$(q "select string_agg(due_date::text, ' ' order by due_date) from annual_fee_charges where card_id = 5")" \
   "2024-02-29 2025-02-28" "card 5's fees"
eq "$(ledger GL-FEE_INCOME-KHR)" $((fee_khr + 2000000 + 16000000)) "fee income KHR"
eq "$(q "select count(*) from audit_log where action like 'eod_%'")" 20 "one audit row per step run"
eq "$(q "select count(*) from eod_runs")" 20 "one record per step run"
invariants "eod"
no_pans
echo "ok: end of day"
