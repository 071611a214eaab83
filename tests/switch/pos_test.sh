#!/usr/bin/env bash
# Card rules at the point of sale, through switchd with a real database and
# hsm-sim (docs/message-profile.md, "Cardholder verification"): signature,
# contactless under and over the no-PIN limit, cash-back without PIN,
# card-not-present with a right, a wrong and no CVV2 (checked by hsm-sim
# with the card's CVK), recurring card-on-file and its stop-payment,
# refund, pre-authorisation and completion, void; the switch's own answers
# in the authorisation log. Balances and holds are checked after each.
#   pos_test.sh BUILD_BIN_DIR
. "$(dirname "$0")/lib.sh"
sw_setup "$1"
sw_start
T=$(de7)
acct=100000011
pan=4539100000001107
ledger() { sql "select ledger_balance from accounts where number='$acct'"; }
held() { sql "select held_amount from accounts where number='$acct'"; }
rule() { sql "select response_code || ' ' || rule from auth_log where stan = '$1' and terminal_id = '${2:-POS00001}' order by id desc limit 1"; }
l0=$(ledger) h0=$(held)

# A POS purchase with extra fields: pos STAN AMOUNT EXPECT_RC "FIELD LINES" [MTI] [PROC]
pos() {
  iso - <<EOF2 || fail "stan $1: expected $3"
$(signon)
$(purchase "${5:-0200}" "$1" "$2" POS00001 $pan "$4")
!expect 39=$3

EOF2
}
nl=$'\n'
# follow_up MTI STAN AMOUNT ORIG_MTI ORIG_STAN [PAN]: an 0220 / 0400 on POS00001
# referring (DE 90) to an earlier message of this run
follow_up() {
  printf 'MTI=%s\n2=%s\n3=000000\n4=%012d\n7=%s\n11=%s\n32=00000000001\n41=POS00001\n42=MER000000000001\n49=840\n90=%s%s%s0000000000100000000000\n' \
    "$1" "${6:-$pan}" "$3" "$T" "$2" "$4" "$5" "$T"
}

# Signature (chip, no PIN): approved and held.
pos 000201 1000 00 "22=052${nl}"
[ "$(rule 000201)" = "00 approved_hold" ] || fail "signature purchase: $(rule 000201)"
[ "$(held)" = $((h0 + 1000)) ] || fail "signature purchase not held: $(held)"

# Contactless: 20.00 without PIN is fine, 60.00 is over the 50.00 no-PIN limit.
pos 000202 2000 00 "22=071${nl}"
pos 000203 6000 55 "22=071${nl}"
[ "$(rule 000203)" = "55 pin_required_contactless" ] || fail "contactless over limit: $(rule 000203)"
# the limit is the bank's data, not code
sql "update bank_settings set contactless_cvm_limit = 10000" >/dev/null
pos 000204 6000 00 "22=071${nl}"
sql "update bank_settings set contactless_cvm_limit = 5000" >/dev/null
[ "$(held)" = $((h0 + 1000 + 2000 + 6000)) ] || fail "contactless holds: $(held)"

# Cash-back needs the PIN.
iso - <<EOF2 || fail "cash-back without PIN"
$(signon)
$(purchase 0200 000205 3000 POS00001 $pan "22=052${nl}" | sed 's/^3=000000/3=090000/')
!expect 39=55
EOF2
[ "$(rule 000205)" = "55 pin_required" ] || fail "cash-back without PIN: $(rule 000205)"
# Its cash part (DE 54, amount type 40) must be a credit in DE 49's
# currency, not above DE 4: otherwise a format error, nothing held.
h_cb=$(held)
iso - <<EOF2 || fail "cash-back with a bad DE 54"
$(signon)
$(purchase 0200 000290 3000 POS00001 $pan "22=052${nl}54=0040840C000000004000${nl}" | sed 's/^3=000000/3=090000/')
!expect 39=30
$(purchase 0200 000291 3000 POS00001 $pan "22=052${nl}54=0040116C000000001000${nl}" | sed 's/^3=000000/3=090000/')
!expect 39=30
$(purchase 0200 000292 3000 POS00001 $pan "22=052${nl}54=0040840C00000000100${nl}" | sed 's/^3=000000/3=090000/')
!expect 39=30
EOF2
[ "$(held)" = "$h_cb" ] || fail "a malformed cash-back held something"

# Card not present: CVV2 from hsm-sim with the card's CVK.
cvk=$(sql "select k.key_lmk from cards c join crypto_keys k on k.id = c.cvk_key_id where c.pan_masked = '453910******1107'")
[ -n "$cvk" ] || fail "load demo --hsm gave the card no CVK"
cvv2=$("$BIN/hsmctl" --port "$HSM_PORT" cvv --cvk "$cvk" --pan $pan --expiry 3011 --service-code 000 | sed -n 's/^cvv=//p')
[ ${#cvv2} = 3 ] || fail "no CVV2 from hsmctl"
bad=$(printf '%03d' $(( (10#$cvv2 + 1) % 1000 )))
h1=$(held)
pos 000206 1500 05 "22=812${nl}25=59${nl}"
[ "$(rule 000206)" = "05 cvv2_required" ] || fail "CNP without CVV2: $(rule 000206)"
pos 000207 1500 05 "22=812${nl}25=59${nl}48=C2003${bad}${nl}"
[ "$(rule 000207)" = "05 cvv2_mismatch" ] || fail "CNP wrong CVV2: $(rule 000207)"
pos 000208 1500 00 "22=812${nl}25=59${nl}48=C2003${cvv2}${nl}"
[ "$(held)" = $((h1 + 1500)) ] || fail "CNP with CVV2 not held exactly once: $(held) vs $h1 + 1500"
# the CVV2 is never logged
grep -q "C2003$cvv2" "$SW_LOG" && fail "CVV2 in the switch log"
[ "$(sql "select count(*) from auth_log where rule like '%$cvv2%'")" = 0 ] || fail "CVV2 in auth_log"
# a malformed DE 48
pos 000209 1500 30 "22=812${nl}48=C2009123${nl}"

# Recurring card-on-file (no PIN, no CVV2), then the cardholder stops the merchant.
rec() {
  iso - <<EOF2 || fail "recurring stan $1: expected $2"
$(signon POS00003)
$(purchase 0100 "$1" 999 POS00003 $pan "22=102${nl}48=RC0011${nl}" | sed 's/^42=.*/42=MER000000000004/')
!expect 39=$2
EOF2
}
rec 000210 00
[ "$(rule 000210 POS00003)" = "00 approved_hold" ] || fail "recurring: $(rule 000210 POS00003)"
card=$(sql "select id from cards where pan_masked = '453910******1107'")
sql "insert into stop_payments (card_id, merchant_id, reason) values ($card, 'MER000000000004', 'test')" >/dev/null
rec 000211 57
[ "$(rule 000211 POS00003)" = "57 stop_payment" ] || fail "stop-payment: $(rule 000211 POS00003)"
# without the recurring flag a card-on-file charge needs its CVV2
iso - <<EOF2 || fail "card-on-file without RC"
$(signon POS00003)
$(purchase 0100 000212 999 POS00003 $pan "22=102${nl}")
!expect 39=05
EOF2

# Refund: credited at once.
l1=$(ledger)
iso - <<EOF2 || fail "refund"
$(signon)
$(purchase 0200 000213 700 POS00001 $pan "22=052${nl}" | sed 's/^3=000000/3=200000/')
!expect 39=00
EOF2
[ "$(ledger)" = $((l1 + 700)) ] || fail "refund not credited: $(ledger) vs $l1 + 700"

# Pre-authorisation 40.00, completed at 45.00 (within the 20% tolerance),
# on another card: the Visa Classic has made its 5 purchases of the day
# (the sixth is refused 65).
pos 000218 500 65 "22=052${nl}"
biz=4539100000002204
held_biz() { sql "select a.held_amount from accounts a join cards c on c.account_id = a.id where c.pan_masked = '453910******2204'"; }
ledger_biz() { sql "select a.ledger_balance from accounts a join cards c on c.account_id = a.id where c.pan_masked = '453910******2204'"; }
h2=$(held_biz) lb=$(ledger_biz)
iso - <<EOF2 || fail "pre-authorisation"
$(signon)
$(purchase 0100 000214 4000 POS00001 $biz "22=052${nl}")
!expect 39=00
EOF2
[ "$(held_biz)" = $((h2 + 4000)) ] || fail "pre-authorisation not held"
iso - <<EOF2 || fail "completion"
$(signon)
$(follow_up 0220 000215 4500 0100 000214 $biz)
!expect 39=00
EOF2
[ "$(sql "select response_code from auth_log where stan='000215' and msg_class='completion'")" = 00 ] \
  || fail "completion not logged"
# the hold now stands at the completed amount; the money moves at clearing
[ "$(held_biz)" = $((h2 + 4500)) ] && [ "$(ledger_biz)" = "$lb" ] \
  || fail "completion: held $(held_biz) (was $h2), ledger $(ledger_biz) (was $lb)"
# a second pre-authorisation completed 25% over: 13, the hold unchanged
iso - <<EOF2 || fail "completion out of tolerance"
$(signon)
$(purchase 0100 000219 2000 POS00001 $biz "22=052${nl}")
!expect 39=00

$(follow_up 0220 000220 2500 0100 000219 $biz)
!expect 39=13
EOF2
[ "$(held_biz)" = $((h2 + 4500 + 2000)) ] || fail "out-of-tolerance completion moved the hold: $(held_biz)"

# Void (0400) of the signature purchase: its hold is released.
h3=$(held)
iso - <<EOF2 || fail "void"
$(signon)
$(follow_up 0400 000216 1000 0200 000201)
!expect 39=00
EOF2
[ "$(held)" = $((h3 - 1000)) ] || fail "void did not release the hold: $(held) vs $h3 - 1000"

# A stand-in approval made elsewhere (0120 advice): recorded and held once,
# always acknowledged, the stand-in's approval code kept; an unknown card
# acknowledged too, nothing held.
plat=4539100000004408
held_plat() { sql "select a.held_amount from accounts a join cards c on c.account_id = a.id where c.pan_masked = '453910******4408'"; }
hp=$(held_plat)
iso - <<EOF2 || fail "advice"
$(signon POS00002)
$(purchase 0120 000240 2500 POS00002 $plat "38=SI1234${nl}")
!expect MTI=0130 39=00 38=SI1234

$(purchase 0121 000240 2500 POS00002 $plat "38=SI1234${nl}")
!expect MTI=0130 39=00

$(purchase 0120 000241 2500 POS00002 4111111111111111 "38=SI1235${nl}")
!expect MTI=0130 39=00
EOF2
[ "$(held_plat)" = $((hp + 2500)) ] || fail "advice not held exactly once: $(held_plat) vs $hp + 2500"
[ "$(rule 000240 POS00002)" = "00 advice_recorded" ] && [ "$(rule 000241 POS00002)" = "00 advice_unknown_card" ] \
  || fail "advices: $(rule 000240 POS00002) / $(rule 000241 POS00002)"

# End of day: POS00001's batch totals (0500). Approved there in this test:
# debits 201, 202, 204, 208 (0200) and the completion 215 = 5 for 150.00;
# the refund 213 = 1 credit of 7.00; the void of 201 = 1 debit reversal of
# 10.00. Pre-authorisations and declines do not count.
batch() { # STAN MTI DEBITS DEBIT-AMOUNT
  printf 'MTI=%s\n7=%s\n11=%s\n32=00000000001\n41=POS00001\n50=840\n74=0000000001\n75=0000000000\n76=%010d\n77=0000000001\n86=0000000000000700\n87=0000000000000000\n88=%016d\n89=0000000000001000\n' \
    "$2" "$T" "$1" "$3" "$4"
}
iso - <<EOF2 || fail "batch close"
$(signon)
$(batch 000230 0500 5 15000)
!expect MTI=0510 39=00 76=0000000005

$(batch 000230 0501 5 15000)
!expect MTI=0510 39=00

$(batch 000231 0500 5 15000)
!expect MTI=0510 39=95
EOF2
[ "$(sql "select response_code || ' ' || switch_totals::text from terminal_reconciliations where stan = '000230'")" = "00 {1,0,5,1,700,0,15000,1000}" ] \
  || fail "reconciliation: $(sql "select * from terminal_reconciliations")"
# the second batch is empty: the terminal's 5 debits were closed with the first
[ "$(sql "select switch_totals::text from terminal_reconciliations where stan = '000231'")" = "{0,0,0,0,0,0,0,0}" ] \
  || fail "second batch: $(sql "select switch_totals from terminal_reconciliations where stan = '000231'")"

# The switch's own answers are in the log too (msg_class local): an ATM
# withdrawal without a PIN block.
iso - <<EOF2 || fail "ATM without PIN"
$(signon ATM00001)
$(purchase 0200 000217 2000 ATM00001 $pan "22=021${nl}" | sed 's/^3=000000/3=010000/')
!expect 39=55
EOF2
for _ in $(seq 50); do [ "$(rule 000217 ATM00001)" = "55 pin_required" ] && break; sleep 0.1; done
[ "$(sql "select msg_class || ' ' || rule || ' ' || (card_id is not null) from auth_log where stan = '000217'")" = "local pin_required true" ] \
  || fail "local decline not logged: $(sql "select * from auth_log where stan = '000217'")"
[ "$(ledger)" = $((l1 + 700)) ] || fail "the ledger moved for holds only: $(ledger)"
echo ok
