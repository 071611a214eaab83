#!/usr/bin/env bash
# switchctl report against a real database: a day of known transactions
# made by the schema's own authorise() and reverse() (cash at our ATM and at
# another bank's, a USD withdrawal on a KHR account, a partial reversal of
# it, a purchase, a foreign balance inquiry, declines), the other bank's
# withdrawals cleared by a Mastercard file and one of them partly refunded
# after clearing; then every report's exact numbers in CSV, checked against
# the ledger's own accounts where the ledger says the same thing, the text
# form, the statement's running balance against accounts.ledger_balance and
# the authorisation log's ledger_after, the audit log, and bad command lines.
#   reports_test.sh SWITCHCTL
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
report() { sc report "$@" || fail "report $*: $(cat "$tmp/err")"; }
eq() { [ "$1" = "$2" ] || fail "$3: got '$1', want '$2'"; }
ledger() { q "select ledger_balance from accounts where number = '$1'"; }
# Minor units as the reports print them (both currencies: exponent 2).
money() { local v=$1 s=""; [ "${v#-}" != "$v" ] && { s=-; v=${v#-}; }; printf '%s%d.%02d' "$s" $((v / 100)) $((v % 100)); }
line() { grep -x "$1" "$tmp/out" >/dev/null || fail "$2: no line '$1' in:
$(cat "$tmp/out")"; }
day=$(q "select (now() at time zone 'Asia/Phnom_Penh')::date")
dplus() { q "select ('$day'::date + $1)::date"; }

own=00000000001 other=00000000002
stan=0
want() { # RC TYPE ACQUIRER TERMINAL CARD AMOUNT CURRENCY PIN [MERCHANT]; the STAN in $last_stan
  local rc
  stan=$((stan + 1)); last_stan=$(printf '%06d' $stan)
  rc=$(q "select (authorise('$2', '$3', '$4', '$last_stan', '1123101500', (select pan_hash from cards where id = $5),
            $6, $7::smallint, p_merchant_id => ${9:-NULL}, p_pin_result => $8)).response_code")
  eq "$rc" "$1" "authorise ${*:2}"
}
reverse() { # ACQUIRER TERMINAL ORIG_STAN REPLACEMENT RULE
  local rule
  stan=$((stan + 1))
  rule=$(q "select (reverse('$1', '$2', '$(printf '%06d' $stan)', '1123101600', '$3', '1123101500', $4)).rule")
  eq "$rule" "$5" "reverse $*"
}

# The bank's accounts before the day's business.
fee_usd0=$(ledger GL-FEE_INCOME-USD) fee_khr0=$(ledger GL-FEE_INCOME-KHR) fxi_khr0=$(ledger GL-FX_INCOME-KHR)
pos_usd0=$(ledger GL-FX_POSITION-USD) pos_khr0=$(ledger GL-FX_POSITION-KHR)
rate=$(q "select rate from exchange_rates where from_currency = 840 and to_currency = 116 order by effective_from desc limit 1")
ref=$(q "select khr_per_usd_reference from bank_settings")
usd_card=2 usd_acct=100000011     # Visa Classic, USD
mc_card=8 mc_acct=100000051       # Mastercard Standard, USD
khr_card=3 khr_acct=100000012     # Visa Classic on a KHR account

# 1. The day. Own ATM: 100.00 cash, a USD 50.00 withdrawal on the KHR
#    account (converted at the day's rate, 2% conversion fee, posted), of
#    which the ATM paid out 20.00 (partial reversal: 30.00 and its share of
#    the fee back), a wrong PIN. Own POS: a 30.00 purchase (held), one over
#    the daily limit. Another bank's ATM: 200.00 and 300.00 cash (fee 2%,
#    at least 5.00: 5.00 and 6.00, held), a balance inquiry (0.50, posted).
want 00 cash $own ATM00001 $usd_card 10000 840 "'ok'"
want 00 cash $other OTHER001 $mc_card 20000 840 "'ok'"
want 00 cash $other OTHER001 $mc_card 30000 840 "'ok'"; mc_300=$last_stan
want 00 cash $own ATM00002 $khr_card 5000 840 "'ok'"; khr_50=$last_stan
reverse $own ATM00002 "$khr_50" 2000 posting_reversed
want 00 purchase $own POS00001 $usd_card 3000 840 NULL "'MER000000000001'"
want 61 purchase $own POS00002 $usd_card 900000 840 NULL
want 55 cash $own ATM00001 4 10000 840 "'bad'"
want 00 balance $other OTHER001 $mc_card 0 840 "'ok'"

# 2. The other bank's withdrawals are cleared (principal and fees posted,
#    holds closed); the ATM then says it paid only 100.00 of the 300.00:
#    200.00 comes back, and of the 6.00 fee what exceeds the fee on 100.00
#    (its 5.00 minimum): 1.00.
sc clearing make-test-file --scheme mastercard --date "$day" --out "$tmp/mc.ipm" || fail "make-test-file: $(cat "$tmp/err")"
sc clearing import "$tmp/mc.ipm" || fail "clearing import: $(cat "$tmp/err")"
eq "$(q "select count(*) from clearing_records where outcome = 'matched'")" 2 "cleared withdrawals"
reverse $other OTHER001 "$mc_300" 10000 cleared_refunded
psql_t -f "$here/../db/helpers.sql" -c "SELECT pg_temp.check_invariants()" >/dev/null || fail "ledger invariants"

# 3. auths: per channel, currency and response code; a total row with the
#    approval rate per channel and currency. Reversals are not counted.
report auths --date "$day" --csv
eq "$(head -1 "$tmp/out")" "channel,currency,response,meaning,count,amount,approval_rate" "auths CSV header"
eq "$(tail -n +2 "$tmp/out")" "ATM,USD,00,approved,2,150.00,
ATM,USD,55,incorrect PIN,1,100.00,
ATM,USD,all,,3,250.00,66.67
POS,USD,00,approved,1,30.00,
POS,USD,61,exceeds amount limit,1,9000.00,
POS,USD,all,,2,9030.00,50.00
network,USD,00,approved,3,500.00,
network,USD,all,,3,500.00,100.00" "auths rows"
# The same numbers straight from the log.
eq "$(q "select count(*) from auth_log where business_day = '$day' and msg_class = 'auth'")" 8 "authorisations logged"

# 4. fees, from the ledger: charged, refunded, net per product, type and
#    currency; the nets are the day's movement of the income accounts.
report fees --date "$day" --csv
conv=$(( (5000 * ${rate%.*} * 200 + 5000) / 10000 ))      # 2% of 50.00 at the rate, in KHR minor units
conv_back=$(( conv * 3000 / 5000 ))
eq "$(cat "$tmp/out")" "product,fee_type,currency,charged,charged_amount,refunded,refunded_amount,net_amount
MC_STANDARD,balance_inquiry,USD,1,0.50,0,0.00,0.50
MC_STANDARD,other_bank_cash,USD,2,11.00,1,1.00,10.00
VISA_CLASSIC,conversion,KHR,1,$(money $conv),1,$(money $conv_back),$(money $((conv - conv_back)))" "fees"
eq "$(money $(( $(ledger GL-FEE_INCOME-USD) - fee_usd0 )))" 10.50 "fee income USD booked"
eq "$(( $(ledger GL-FEE_INCOME-KHR) - fee_khr0 ))" 0 "fee income KHR booked"
eq "$(( $(ledger GL-FX_INCOME-KHR) - fxi_khr0 ))" $((conv - conv_back)) "conversion fees booked"

# 5. fx: the KHR account paid 50.00 - 30.00 = 20.00 USD at the rate; the
#    position's result is that less 20.00 at the reference rate.
report fx --date "$day" --csv
taken=$(( 2000 * ${rate%.*} ))
result=$(( taken - 2000 * ref ))
eq "$(cat "$tmp/out")" "txn_currency,account_currency,conversions,paid_out,taken_in,conversion_fees,position_result,fx_income
USD,KHR,2,20.00,$(money $taken),$(money $((conv - conv_back))),$(money $result),$(money $((conv - conv_back + result)))" "fx"
eq "$(( $(ledger GL-FX_POSITION-KHR) - pos_khr0 ))" $taken "FX position KHR taken in"
eq "$(( pos_usd0 - $(ledger GL-FX_POSITION-USD) ))" 2000 "FX position USD paid out"

# 6. holds: only the purchase's is left (the cleared ones are closed), age
#    0 today, 10 days later in 8-14, past 32 days in "over 32" until the
#    expiry job closes it; nothing the day before it was made.
holds_usd() { report holds --date "$1" --csv; grep '^USD,' "$tmp/out" | cut -d, -f2- | tr '\n' ' '; }
eq "$(holds_usd "$day")" "0-1,1,30.00 2-7,0,0.00 8-14,0,0.00 15-32,0,0.00 over 32,0,0.00 total,1,30.00 " "holds today"
eq "$(head -1 "$tmp/out")" "currency,age_days,count,amount" "holds CSV header"
eq "$(grep -c '^KHR,.*,0,0.00$' "$tmp/out")" 6 "no KHR holds"
eq "$(holds_usd "$(dplus 10)")" "0-1,0,0.00 2-7,0,0.00 8-14,1,30.00 15-32,0,0.00 over 32,0,0.00 total,1,30.00 " "holds +10 days"
eq "$(holds_usd "$(dplus -1)")" "0-1,0,0.00 2-7,0,0.00 8-14,0,0.00 15-32,0,0.00 over 32,0,0.00 total,0,0.00 " "holds the day before"
sc holds expire --now "$(dplus 40) 12:00+07" || fail "holds expire: $(cat "$tmp/err")"
eq "$(cat "$tmp/out")" "holds expired (released): 1" "hold expired"
eq "$(holds_usd "$(dplus 33)")" "0-1,0,0.00 2-7,0,0.00 8-14,0,0.00 15-32,0,0.00 over 32,1,30.00 total,1,30.00 " "holds +33 days, expired later"
eq "$(holds_usd "$(dplus 40)")" "0-1,0,0.00 2-7,0,0.00 8-14,0,0.00 15-32,0,0.00 over 32,0,0.00 total,0,0.00 " "holds after expiry"

# 7. statement: opening balance, lines, closing balance; the running
#    balance agrees line by line with the debits and credits, with every
#    posting's ledger_after in the authorisation log, and at the end with
#    accounts.ledger_balance.
minor() { local v=${1:-0} s=1; [ "${v:0:1}" = - ] && { s=-1; v=${v#-}; }; v=${v/./}; echo $((s * 10#$v)); }
check_statement() { # ACCOUNT FROM TO -> lines in $tmp/out checked
  report statement --account "$1" --from "$2" --to "$3" --csv
  eq "$(head -1 "$tmp/out")" "line,date,description,debit,credit,balance" "statement CSV header"
  local bal="" n=0 debits=0 credits=0 want_open
  want_open=$(q "select coalesce(sum(l.amount), 0) from journal_lines l join journal_entries e on e.id = l.entry_id
                 join accounts a on a.id = l.account_id where a.number = '$1' and e.business_day < '$2'")
  : >"$tmp/balances"
  while IFS= read -r row; do
    local f debit credit b desc
    # The description may be quoted and hold commas: the amounts are the last three fields.
    b=${row##*,}; f=${row%,*}; credit=${f##*,}; f=${f%,*}; debit=${f##*,}
    desc=$(cut -d, -f3- <<<"${f%,*}")
    case $desc in
      "Opening balance") eq "$(minor "$b")" "$want_open" "$1 opening balance" ;;
      "Closing balance")
        eq "$(minor "$b")" "$bal" "$1 closing balance = last running balance"
        eq "$(minor "$debit") $(minor "$credit")" "$debits $credits" "$1 closing totals" ;;
      *) n=$((n + 1))
         eq "$(minor "$b")" $((bal - $(minor "$debit") + $(minor "$credit"))) "$1 running balance, line $n"
         debits=$((debits + $(minor "$debit"))) credits=$((credits + $(minor "$credit"))) ;;
    esac
    bal=$(minor "$b")
    echo "$bal" >>"$tmp/balances"
  done < <(tail -n +2 "$tmp/out")
  statement_lines=$n statement_closing=$bal
}
for acct in $khr_acct $mc_acct $usd_acct; do
  check_statement $acct "$day" "$day"
  eq "$statement_closing" "$(ledger $acct)" "$acct closing balance = ledger balance"
  for after in $(q "select l.ledger_after from auth_log l join accounts a on a.id = l.account_id
                    where a.number = '$acct' and l.entry_id is not null and l.response_code = '00'"); do
    grep -qx -- "$after" "$tmp/balances" || fail "$acct: ledger_after $after of a posting is no running balance"
  done
done
# The KHR account, exactly: the deposit, the withdrawal and its conversion
# fee, the reversal and the fee's share back, in KHR with its minor unit.
check_statement $khr_acct "$day" "$day"
khr_open=$(q "select sum(l.amount) from journal_lines l join journal_entries e on e.id = l.entry_id
              where l.account_id = (select id from accounts where number = '$khr_acct') and e.kind = 'deposit'")
amt=$(( 5000 * ${rate%.*} )) back=$(( 3000 * ${rate%.*} ))
b1=$((khr_open - amt)) b2=$((khr_open - amt - conv)) b3=$((khr_open - amt - conv + back)) b4=$((khr_open - amt - conv + back + conv_back))
eq "$(tail -n +2 "$tmp/out")" "0,$day,Opening balance,,,0.00
1,$day,Deposit: demo opening deposits,,$(money $khr_open),$(money $khr_open)
2,$day,\"Cash withdrawal 453910******1115, Aeon Mall, Phnom Penh (USD 50.00 at ${rate%.*})\",$(money $amt),,$(money $b1)
3,$day,\"Fee: currency conversion 453910******1115, Aeon Mall, Phnom Penh\",$(money $conv),,$(money $b2)
4,$day,\"Reversal: cash withdrawal 453910******1115, Aeon Mall, Phnom Penh (USD 30.00 at ${rate%.*})\",,$(money $back),$(money $b3)
5,$day,\"Fee refund: currency conversion 453910******1115, Aeon Mall, Phnom Penh\",,$(money $conv_back),$(money $b4)
6,$day,Closing balance,$(money $((amt + conv))),$(money $((khr_open + back + conv_back))),$(money $b4)" "KHR statement"
# The Mastercard account: the cleared withdrawals with their fees, the
# inquiry fee, the refund after clearing and the fee's part back.
check_statement $mc_acct "$day" "$day"
eq "$statement_lines" 8 "Mastercard statement lines"
eq "$(awk -F, 'NR >= 4 && NR <= 10 { print $(NF - 2) "," $(NF - 1) }' "$tmp/out" | tr '\n' ' ')" \
   "0.50, 200.00, 5.00, 300.00, 6.00, ,200.00 ,1.00 " "Mastercard statement debits and credits"
grep -q "^8,$day,\"Fee refund: cash at another bank's ATM 527410\*\*\*\*\*\*5500, terminal OTHER001 (other bank)\",,1.00," "$tmp/out" \
  || fail "fee refund line: $(cat "$tmp/out")"
# A later period: no lines, opening = closing = the ledger balance.
check_statement $mc_acct "$(dplus 1)" "$(dplus 3)"
eq "$statement_lines" 0 "statement of a later period"
eq "$statement_closing" "$(ledger $mc_acct)" "later period's balance"
# The text form: aligned, KHR grouped in thousands with its minor unit.
report statement --account $khr_acct --from "$day" --to "$day"
head -1 "$tmp/out" | grep -q "^statement of account $khr_acct (savings, KHR, active), Sok Dara$" || fail "statement heading: $(head -1 "$tmp/out")"
grep -q "Cash withdrawal 453910\*\*\*\*\*\*1115, Aeon Mall, Phnom Penh (USD 50.00 at ${rate%.*}) *$(money $amt | sed 's/\(.*[0-9]\)\([0-9]\{3\}\)\.\(..\)$/\1,\2.\3/') *[0-9,]*\.[0-9][0-9]$" "$tmp/out" \
  || fail "text statement line: $(cat "$tmp/out")"
[ "$(awk 'NR > 3 { print length($0) }' "$tmp/out" | sort -u | wc -l)" -le 2 ] || fail "text statement not aligned"

# 8. retention: auth_log rows are class auth (1 year), disputes correction
#    (1 year); due the day after a full year; nothing deleted.
q "insert into disputes (auth_id, card_id, kind, reason, review_by, resolve_by)
   select id, card_id, 'error_claim', 'ATM paid less', now() + interval '30 days', now() + interval '90 days'
     from auth_log where stan = '$mc_300' and msg_class = 'auth'" >/dev/null
nauth=$(q "select count(*) from auth_log")
year=$(q "select ('$day'::date + interval '1 year')::date")
year1=$(q "select ('$day'::date + interval '1 year' + interval '1 day')::date")
report retention --date "$year" --csv
eq "$(head -1 "$tmp/out")" "class,description,keep,table_name,rows,due,oldest_due" "retention CSV header"
line "auth,authorisation records,1 year,auth_log,$nauth,0," "retention after a year"
line "correction,error-correction requests,1 year,disputes,1,0," "retention after a year"
report retention --date "$year1" --csv
line "auth,authorisation records,1 year,auth_log,$nauth,$nauth,$day" "retention a day later"
line "correction,error-correction requests,1 year,disputes,1,1,$day" "retention a day later"
line "txn,transaction records,5 years,-,0,0," "retention: class no table carries"
eq "$(q "select count(*) from auth_log") $(q "select count(*) from disputes")" "$nauth 1" "retention deleted nothing"
report retention --date "$year1"
grep -q "^  auth        authorisation records  *1 year  *auth_log  *$nauth  *$nauth  *$day$" "$tmp/out" || fail "retention text: $(cat "$tmp/out")"

# 9. Text forms: a heading, aligned columns, thousands grouped.
report auths --date "$day"
eq "$(head -1 "$tmp/out")" "authorisations of business day $day (Asia/Phnom_Penh)" "auths heading"
grep -qE "^  POS +USD +all +2 +9,030.00 +50.00$" "$tmp/out" || fail "auths text: $(cat "$tmp/out")"
report fees --date "$day"
grep -qE "^  MC_STANDARD +other_bank_cash +USD +2 +11.00 +1 +1.00 +10.00$" "$tmp/out" || fail "fees text: $(cat "$tmp/out")"

# 10. Every run is in the audit log, with what it was asked; no full PAN
#     anywhere in what the reports printed.
runs=$(q "select count(*) from audit_log where action = 'report'")
eq "$(q "select count(*) from audit_log where action = 'report' and operator = session_user")" "$runs" "audit operator"
report statement --account $khr_acct --from "$day" --to "$day" --csv
eq "$(q "select object || ' ' || (details->>'account') || ' ' || (details->>'from') || ' ' || (details->>'format')
         || ' ' || (details->>'rows') from audit_log where action = 'report' order by id desc limit 1")" \
   "report:statement $khr_acct $day csv 7" "audit row of a statement"
eq "$(q "select count(*) from audit_log where action = 'report'")" $((runs + 1)) "one audit row per run"
for r in auths fees fx holds retention; do
  report $r --date "$day" --csv; cat "$tmp/out" >>"$tmp/all"
  report $r --date "$day"; cat "$tmp/out" >>"$tmp/all"
done
for acct in $khr_acct $mc_acct $usd_acct; do
  report statement --account $acct --from "$day" --to "$day"; cat "$tmp/out" >>"$tmp/all"
done
for pan in $(q "select pan from demo_card_numbers"); do
  ! grep -q "$pan" "$tmp/all" || fail "a full PAN in a report"
done

# 11. Bad command lines: one line, exit 2; a missing account: one line, exit 1;
#     neither is audited.
runs=$(q "select count(*) from audit_log where action = 'report'")
bad() { # EXIT ARGS...
  local want=$1 rc=0; shift
  sc report "$@" || rc=$?
  eq "$rc" "$want" "report $* exit"
  eq "$(wc -l <"$tmp/err")" 1 "report $*: one line"
  grep -q '^switchctl: ' "$tmp/err" || fail "report $*: $(cat "$tmp/err")"
  [ ! -s "$tmp/out" ] || fail "report $* printed: $(cat "$tmp/out")"
}
bad 2 nosuch --date "$day"
bad 2 auths --date 2025-02-30
bad 2 fees --date 24-11-2025
bad 2 holds
bad 2 fx --date "$day" --account 1
bad 2 statement --account $khr_acct --from "$day"
bad 2 statement --account $khr_acct --from "$(dplus 1)" --to "$day"
bad 2
bad 1 statement --account 999999999 --from "$day" --to "$day"
grep -q "no account 999999999$" "$tmp/err" || fail "unknown account: $(cat "$tmp/err")"
bad 1 statement --account GL-FEE_INCOME-USD --from "$day" --to "$day"
grep -q "is one of the bank's own accounts" "$tmp/err" || fail "internal account: $(cat "$tmp/err")"
eq "$(q "select count(*) from audit_log where action = 'report'")" "$runs" "failed runs not audited"
sc report --help || fail "report --help"
grep -q "^usage: switchctl report" "$tmp/out" || fail "report --help: $(cat "$tmp/out")"
echo "ops_reports: all checks passed"
